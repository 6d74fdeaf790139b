//! Small conversions shared by the modules: serde values to Python objects, MB to bytes.

use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde::Serialize;
use serde_json::Value;

/// A JSON value as the Python object `json.loads` would give (dicts keep their key order).
pub(crate) fn json_to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_bound_py_any(py)?,
        Value::Number(n) => {
            if let Some(i) = n.as_u64() {
                i.into_bound_py_any(py)?
            } else if let Some(i) = n.as_i64() {
                i.into_bound_py_any(py)?
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_bound_py_any(py)?
            }
        }
        Value::String(s) => s.into_bound_py_any(py)?,
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, json_to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// Any serde value (a crate's report or stats) as a Python dict / list / scalar.
pub(crate) fn to_py<'py, T: Serialize>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    let v = serde_json::to_value(value).map_err(|e| {
        crate::errors::error(
            crate::errors::Kind::Base,
            format!("converting a report: {e}"),
        )
    })?;
    json_to_py(py, &v)
}

/// A size given in MB (MiB) at the Python edge, as bytes; `name` is the keyword for the error.
pub(crate) fn mb_to_bytes(name: &str, mb: f64) -> PyResult<u64> {
    if !mb.is_finite() || mb <= 0.0 {
        return Err(crate::errors::value_error(format!(
            "{name} must be a positive number of MB, got {mb}"
        )));
    }
    Ok(mem_monitor::mb_to_bytes(mb))
}

/// Bytes as MB (MiB), for reports.
pub(crate) fn mb(bytes: u64) -> f64 {
    mem_monitor::bytes_to_mb(bytes)
}
