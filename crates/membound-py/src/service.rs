//! `CacheService`, `cache_key_for`, `data_hash_for`: zcache-service's embeddings cache.

use std::path::PathBuf;

use numpy::{PyArray1, PyArray2, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use zcache_service::{
    CacheService as RustService, Codec, Embeddings, EmbeddingsRef, ModelInfo, Precision,
};

use crate::convert::{mb_to_bytes, to_py};
use crate::errors;

/// A model identity from a name (`str`) or a dict: `name`, optional `revision`, optional
/// `params` (dict), any other key counting as a parameter (its value as text).
fn model_info(obj: &Bound<'_, PyAny>) -> PyResult<ModelInfo> {
    if let Ok(name) = obj.cast::<PyString>() {
        return Ok(ModelInfo::new(name.to_cow()?));
    }
    let Ok(dict) = obj.cast::<PyDict>() else {
        return Err(PyTypeError::new_err(
            "model_info must be a model name (str) or a dict with at least 'name'",
        ));
    };
    let name: String = dict
        .get_item("name")?
        .ok_or_else(|| errors::value_error("model_info dict has no 'name'"))?
        .extract()?;
    let mut m = ModelInfo::new(name);
    for (k, v) in dict.iter() {
        let k: String = k.extract()?;
        match k.as_str() {
            "name" => {}
            "revision" => {
                if !v.is_none() {
                    m = m.revision(v.str()?.to_cow()?);
                }
            }
            "params" => {
                let params = v
                    .cast::<PyDict>()
                    .map_err(|_| PyTypeError::new_err("model_info['params'] must be a dict"))?;
                for (pk, pv) in params.iter() {
                    m = m.param(pk.str()?.to_cow()?, pv.str()?.to_cow()?);
                }
            }
            _ => m = m.param(k, v.str()?.to_cow()?),
        }
    }
    Ok(m)
}

/// A list of texts (not a lone `str`, which would be a list of characters).
fn texts(obj: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "texts must be a list of str, not one str",
        ));
    }
    obj.extract::<Vec<String>>()
}

/// The deterministic cache key for embedding `texts` with `model_info`.
#[pyfunction]
fn cache_key_for(texts: &Bound<'_, PyAny>, model_info: &Bound<'_, PyAny>) -> PyResult<String> {
    let t = self::texts(texts)?;
    let m = self::model_info(model_info)?;
    Ok(zcache_service::cache_key_for(&t, &m))
}

/// A content hash of `texts` alone, for callers without a data hash of their own.
#[pyfunction]
fn data_hash_for(texts: &Bound<'_, PyAny>) -> PyResult<String> {
    Ok(zcache_service::data_hash_for(&self::texts(texts)?))
}

/// The embeddings cache: matrices with their texts, checked against model and data.
///
/// `CacheService(cache_dir=None, precision="f32", max_cache_size_gb=5.0, *, hot_tier_mb=None,
/// compression=None, sync_writes=False, read_only=False)`. Precision "f32" is lossless (byte
/// shuffle + zstd, ~0.85 of raw on real embeddings), "f16" ~0.42 and "int8" ~0.25 with their
/// fidelity reported. Entries live in `cache_dir` (memory only without one); the least
/// recently used are evicted above `max_cache_size_gb`.
#[pyclass(module = "membound._native", name = "CacheService")]
pub(crate) struct CacheService {
    service: RustService,
}

/// A hit as `(float32 array (n, d), list of texts)`; the array takes the vector without a copy.
fn hit<'py>(
    py: Python<'py>,
    hit: Option<(Embeddings, Vec<String>)>,
) -> PyResult<Bound<'py, PyAny>> {
    let Some((emb, texts)) = hit else {
        return Ok(py.None().into_bound(py));
    };
    let (rows, dim) = emb.shape();
    let array = PyArray1::from_vec(py, emb.into_vec()).reshape([rows, dim])?;
    let texts = PyList::new(py, texts)?;
    Ok(PyTuple::new(py, [array.into_any(), texts.into_any()])?.into_any())
}

#[pymethods]
impl CacheService {
    #[new]
    #[pyo3(signature = (cache_dir = None, precision = "f32", max_cache_size_gb = 5.0, *,
        hot_tier_mb = None, compression = None, sync_writes = false, read_only = false))]
    #[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
    fn new(
        py: Python<'_>,
        cache_dir: Option<PathBuf>,
        precision: &str,
        max_cache_size_gb: f64,
        hot_tier_mb: Option<f64>,
        compression: Option<&str>,
        sync_writes: bool,
        read_only: bool,
    ) -> PyResult<Self> {
        let precision: Precision = precision.parse().map_err(errors::service)?;
        let size = mb_to_bytes("max_cache_size_gb", max_cache_size_gb * 1024.0)?;
        let mut b = RustService::builder()
            .max_cache_size(size)
            .precision(precision)
            .sync_writes(sync_writes)
            .read_only(read_only);
        if let Some(dir) = cache_dir {
            b = b.cache_dir(dir);
        }
        if let Some(hot) = hot_tier_mb {
            b = b.hot_tier(if hot == 0.0 {
                0
            } else {
                mb_to_bytes("hot_tier_mb", hot)?
            });
        }
        if let Some(c) = compression {
            let codec: Codec = c.parse().map_err(errors::cache)?;
            b = b.compression_method(codec);
        }
        let service = py.detach(|| b.build()).map_err(errors::service)?;
        Ok(Self { service })
    }

    /// Saves a float32 (n, d) matrix and its n texts under `key`; returns the save report.
    #[pyo3(signature = (key, embeddings, texts, model_info, data_hash, *, precision = None))]
    #[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
    fn save_embeddings_compressed<'py>(
        &self,
        py: Python<'py>,
        key: &str,
        embeddings: &Bound<'py, PyAny>,
        texts: &Bound<'py, PyAny>,
        model_info: &Bound<'py, PyAny>,
        data_hash: &str,
        precision: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let texts = self::texts(texts)?;
        let model = self::model_info(model_info)?;
        let precision = match precision {
            Some(p) => p.parse().map_err(errors::service)?,
            None => self.service.precision(),
        };
        let arr = crate::optimize::contiguous(embeddings, "embeddings")?;
        let arr = arr.cast::<PyArray2<f32>>().map_err(|_| {
            PyTypeError::new_err(format!(
                "embeddings must be a 2-D float32 array (n, d), got {}-D {}; convert with \
                 .astype(numpy.float32)",
                arr.ndim(),
                arr.dtype()
                    .str()
                    .map_or_else(|_| "?".into(), |s| s.to_string())
            ))
        })?;
        let ro = arr.try_readonly()?;
        let [rows, dim] = [ro.shape()[0], ro.shape()[1]];
        let data = ro
            .as_slice()
            .map_err(|e| errors::value_error(e.to_string()))?;
        let report = py
            .detach(|| {
                let view = EmbeddingsRef::new(data, rows, dim)?;
                self.service
                    .save_embeddings(key, view, &texts, &model, data_hash, precision)
            })
            .map_err(errors::service)?;
        to_py(py, &report)
    }

    /// The embeddings and texts under `key`, or None on a miss (absent or damaged).
    fn get_cached_embeddings_fast<'py>(
        &self,
        py: Python<'py>,
        key: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let found = py
            .detach(|| self.service.get_cached_embeddings_fast(key))
            .map_err(errors::service)?;
        hit(py, found)
    }

    /// Like `get_cached_embeddings_fast`, but an entry of another model or data hash is a miss.
    fn get_cached_embeddings_checked<'py>(
        &self,
        py: Python<'py>,
        key: &str,
        model_info: &Bound<'py, PyAny>,
        data_hash: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let model = self::model_info(model_info)?;
        let found = py
            .detach(|| {
                self.service
                    .get_cached_embeddings_checked(key, &model, data_hash)
            })
            .map_err(errors::service)?;
        hit(py, found)
    }

    /// The service's statistics (entries, sizes, ratios, fidelity, hit rate, ...).
    fn get_enhanced_cache_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stats = py.detach(|| self.service.get_enhanced_cache_stats());
        to_py(py, &stats)
    }

    /// Repairs and trims the cache (orphans, damaged entries, size limit); returns what it did.
    fn optimize_cache<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let report = py
            .detach(|| self.service.optimize_cache())
            .map_err(errors::service)?;
        to_py(py, &report)
    }

    /// Removes the entry under `key`; True if there was one.
    fn remove(&self, py: Python<'_>, key: &str) -> PyResult<bool> {
        py.detach(|| self.service.remove(key))
            .map_err(errors::service)
    }

    /// Whether an entry is stored under `key` (not checked for damage or staleness).
    fn contains(&self, key: &str) -> bool {
        self.service.contains(key)
    }

    fn __contains__(&self, key: &str) -> bool {
        self.service.contains(key)
    }

    /// The keys of all entries, sorted.
    fn keys(&self) -> Vec<String> {
        self.service.keys()
    }

    fn __len__(&self) -> usize {
        self.service.keys().len()
    }

    /// Removes every entry of the service.
    fn clear(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.service.clear()).map_err(errors::service)
    }

    /// The precision saves use by default: "f32", "f16" or "int8".
    #[getter]
    fn precision(&self) -> &'static str {
        self.service.precision().as_str()
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CacheService>()?;
    m.add_function(wrap_pyfunction!(cache_key_for, m)?)?;
    m.add_function(wrap_pyfunction!(data_hash_for, m)?)?;
    Ok(())
}
