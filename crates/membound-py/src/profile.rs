//! `profile` and `ProfileResult`: mem-profile sessions around Python code.
//!
//! A session samples the resident memory of the whole process (Python's own heap included) on
//! a Rust thread that never takes the GIL, then fits a robust trend to tell a leak from churn.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use mem_profile::{MemoryProfiler, ProfileResult as RustResult};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::convert::mb_to_bytes;
use crate::errors;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a profiling session found.
#[pyclass(module = "membound._native", name = "ProfileResult", frozen)]
pub(crate) struct ProfileResult(RustResult);

#[pymethods]
impl ProfileResult {
    /// The session's name.
    #[getter]
    fn session_name(&self) -> &str {
        &self.0.session_name
    }
    /// Length of the session, seconds.
    #[getter]
    fn duration_s(&self) -> f64 {
        self.0.duration_s
    }
    /// Resident memory at the first snapshot, MB.
    #[getter]
    fn start_memory_mb(&self) -> f64 {
        self.0.start_memory_mb
    }
    /// Resident memory at the last snapshot, MB.
    #[getter]
    fn end_memory_mb(&self) -> f64 {
        self.0.end_memory_mb
    }
    /// Highest resident memory seen, MB.
    #[getter]
    fn peak_memory_mb(&self) -> f64 {
        self.0.peak_memory_mb
    }
    /// End minus start, MB.
    #[getter]
    fn memory_growth_mb(&self) -> f64 {
        self.0.memory_growth_mb
    }
    /// Whether memory grew in a sustained, significant way (a leak, not churn or one step).
    #[getter]
    fn memory_leak_detected(&self) -> bool {
        self.0.memory_leak_detected
    }
    /// Growth rate of the leak, MB/hour (0 when none).
    #[getter]
    fn leak_rate_mb_per_hour(&self) -> f64 {
        self.0.leak_rate_mb_per_hour
    }
    /// Why the leak verdict is what it is, in words.
    #[getter]
    fn leak_reason(&self) -> &str {
        &self.0.leak_analysis.reason
    }
    /// What to do about what was found.
    #[getter]
    fn recommendations(&self) -> Vec<String> {
        self.0.recommendations.clone()
    }
    /// The samples as (elapsed_s, rss_mb) pairs, oldest first.
    #[getter]
    fn snapshots(&self) -> Vec<(f64, f64)> {
        self.0
            .snapshots
            .iter()
            .map(|s| (s.elapsed_s, s.rss_mb))
            .collect()
    }
    /// The whole result as JSON (the format of `membound profile --json`).
    fn to_json(&self) -> PyResult<String> {
        self.0.to_json().map_err(errors::profile)
    }
    /// The whole result as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::convert::to_py(py, &self.0)
    }
    /// A self-contained HTML report with an SVG chart; written to `path` when given.
    #[pyo3(signature = (path = None))]
    fn to_html(&self, py: Python<'_>, path: Option<PathBuf>) -> PyResult<String> {
        let html = py.detach(|| self.0.to_html()).map_err(errors::profile)?;
        if let Some(path) = path {
            py.detach(|| self.0.write_html(&path))
                .map_err(errors::profile)?;
        }
        Ok(html)
    }
    /// A few lines for people.
    fn summary(&self) -> String {
        self.0.summary()
    }
    fn __repr__(&self) -> String {
        format!(
            "ProfileResult(session_name={:?}, peak_memory_mb={:.1}, memory_leak_detected={})",
            self.0.session_name, self.0.peak_memory_mb, self.0.memory_leak_detected
        )
    }
}

/// A profiling session: a context manager (or `start()` / `stop()`).
#[pyclass(module = "membound._native", name = "Profile")]
pub(crate) struct Profile {
    name: String,
    profiler: MemoryProfiler,
    result: Mutex<Option<Py<ProfileResult>>>,
}

#[pymethods]
impl Profile {
    /// Starts sampling.
    fn start(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.profiler.start_profiling(&self.name))
            .map_err(errors::profile)
    }

    /// Stops sampling and analyses the series; the result is also kept in `result`.
    fn stop(&self, py: Python<'_>) -> PyResult<Py<ProfileResult>> {
        let r = py
            .detach(|| self.profiler.stop_profiling(&self.name))
            .map_err(errors::profile)?;
        let r = Py::new(py, ProfileResult(r))?;
        *lock(&self.result) = Some(r.clone_ref(py));
        Ok(r)
    }

    /// The session's name.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// Whether the session is sampling.
    #[getter]
    fn is_running(&self) -> bool {
        self.profiler.is_profiling(&self.name)
    }

    /// The result, once the session has stopped.
    #[getter]
    fn result(&self, py: Python<'_>) -> PyResult<Py<ProfileResult>> {
        lock(&self.result)
            .as_ref()
            .map(|r| r.clone_ref(py))
            .ok_or_else(|| {
                PyRuntimeError::new_err(format!(
                    "profiling session `{}` has not finished: leave the `with` block (or call stop()) first",
                    self.name
                ))
            })
    }

    fn __enter__<'a>(slf: PyRef<'a, Self>, py: Python<'a>) -> PyResult<PyRef<'a, Self>> {
        slf.start(py)?;
        Ok(slf)
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.stop(py)?;
        Ok(false)
    }
}

/// Profiles the memory of the code in a `with` block.
///
/// Samples the resident memory of the whole process (Python's heap included) every
/// `interval_ms` on a thread that never takes the GIL; on exit the series is analysed: peak,
/// growth, and whether memory leaks (sustained growth) rather than churns. `memory_budget_mb`
/// is the peak above which the result recommends streaming (default 2048).
///
///     with membound.profile("load", interval_ms=100) as p:
///         work()
///     print(p.result.peak_memory_mb, p.result.memory_leak_detected)
#[pyfunction]
#[pyo3(signature = (name = "session", interval_ms = 100.0, *, memory_budget_mb = None, max_snapshots = 10_000))]
fn profile(
    name: &str,
    interval_ms: f64,
    memory_budget_mb: Option<f64>,
    max_snapshots: usize,
) -> PyResult<Profile> {
    if !interval_ms.is_finite() || interval_ms < 1.0 {
        return Err(errors::value_error(format!(
            "interval_ms must be at least 1, got {interval_ms}"
        )));
    }
    let mut b = MemoryProfiler::builder()
        .snapshot_interval(Duration::from_secs_f64(interval_ms / 1000.0))
        .max_snapshots(max_snapshots);
    if let Some(budget) = memory_budget_mb {
        b = b.memory_budget(mb_to_bytes("memory_budget_mb", budget)?);
    }
    Ok(Profile {
        name: name.to_owned(),
        profiler: b.build().map_err(errors::profile)?,
        result: Mutex::new(None),
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ProfileResult>()?;
    m.add_class::<Profile>()?;
    m.add_function(wrap_pyfunction!(profile, m)?)?;
    Ok(())
}
