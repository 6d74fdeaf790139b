//! `CompressedCache`: zcache's two-tier compressed cache for bytes, text and NumPy arrays.
//!
//! `bytes` and `str` are stored as zcache's own bytes and text kinds (readable from Rust and the
//! CLI as they are). A NumPy array is stored as a `.npy` image (dtype and shape in its header,
//! the data after it) in a bytes entry, byte-shuffled by the element width before compression,
//! and comes back as an array sharing the decompressed buffer. A bytes value that is itself a
//! `.npy` file therefore also comes back as an array.

use std::path::PathBuf;
use std::time::Duration;

use numpy::{PyArray1, PyArrayDescrMethods, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PySlice, PyString};
use zcache::{Codec, CompressedCache as RustCache, ElemType, InnerCodec, PutOptions, ValueKind};

use crate::convert::{mb_to_bytes, to_py};
use crate::errors;

const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// A `.npy` (version 1.0) header for `descr` and `shape`, padded to 64 bytes as NumPy does.
fn npy_header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    let unpadded = NPY_MAGIC.len() + 2 + 2 + dict.len() + 1;
    dict.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    dict.push('\n');
    let mut out = Vec::with_capacity(NPY_MAGIC.len() + 4 + dict.len());
    out.extend_from_slice(NPY_MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&u16::try_from(dict.len()).unwrap_or(u16::MAX).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// The `descr`, shape and data offset of a `.npy` 1.0/2.0 image in C order, or None when the
/// bytes are not one (they are then returned as bytes).
fn parse_npy(bytes: &[u8]) -> Option<(String, Vec<usize>, usize)> {
    let rest = bytes.strip_prefix(NPY_MAGIC)?;
    let (header_len, start) = match rest.first()? {
        1 => (
            usize::from(u16::from_le_bytes([*rest.get(2)?, *rest.get(3)?])),
            10usize,
        ),
        2 | 3 => {
            let b = rest.get(2..6)?;
            (
                usize::try_from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])).ok()?,
                12,
            )
        }
        _ => return None,
    };
    let header = std::str::from_utf8(bytes.get(start..start.checked_add(header_len)?)?).ok()?;
    let field = |name: &str| -> Option<&str> {
        let at = header.find(&format!("'{name}':"))? + name.len() + 3;
        Some(header[at..].trim_start())
    };
    let descr = field("descr")?.strip_prefix('\'')?;
    let descr = &descr[..descr.find('\'')?];
    if !field("fortran_order")?.starts_with("False") {
        return None;
    }
    let shape = field("shape")?.strip_prefix('(')?;
    let shape = &shape[..shape.find(')')?];
    let dims = shape
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().ok())
        .collect::<Option<Vec<_>>>()?;
    let offset = start + header_len;
    Some((descr.to_owned(), dims, offset))
}

/// The codec for an array of `component`-byte numbers under the cache's default codec: the same
/// family after a byte shuffle of that width, when the width is one the shuffle supports.
fn array_codec(default: Codec, component: usize) -> Option<Codec> {
    let width = u8::try_from(component)
        .ok()
        .filter(|w| matches!(w, 2 | 4 | 8))?;
    let inner = match default {
        Codec::None => return Some(Codec::None),
        Codec::Lz4 => InnerCodec::Lz4,
        Codec::Gzip(l) => InnerCodec::Gzip(l),
        Codec::Zstd(l) => InnerCodec::Zstd(l),
        Codec::Shuffle { inner, .. } => inner,
        Codec::Auto => zcache::DEFAULT_SHUFFLE_INNER,
    };
    Some(Codec::Shuffle { width, inner })
}

/// A value's raw bytes and codec, taken from Python.
enum Value<'a> {
    Bytes(&'a [u8]),
    Text(&'a str),
    /// A `.npy` image and the shuffle codec for its elements.
    Array(Vec<u8>, Option<Codec>),
}

/// A two-tier (memory + disk) compressed cache.
///
/// `CompressedCache(max_memory_mb=500, compression="lz4", disk_dir=None, ttl_seconds=None, *,
/// max_disk_mb=None, sync_writes=True, read_only=False)`. Stores bytes, str and NumPy arrays of
/// bool, integer, float or complex dtype (dtype and shape kept); `get` returns the type stored,
/// or None on a miss. The memory tier is bounded by the bytes it really holds; the optional
/// disk tier keeps checksummed files that survive restarts. Codecs: "lz4", "zstd[:level]",
/// "gzip[:level]", "shuffle[:width[:inner]]", "none", "auto". Compression and I/O run without
/// the GIL.
#[pyclass(module = "membound._native", name = "CompressedCache")]
pub(crate) struct CompressedCache {
    cache: RustCache,
    default_codec: Codec,
}

fn parse_codec(name: &str) -> PyResult<Codec> {
    name.parse::<Codec>().map_err(errors::cache)
}

fn ttl(seconds: Option<f64>) -> PyResult<Option<Duration>> {
    seconds
        .map(|s| {
            if s.is_finite() && s > 0.0 {
                Ok(Duration::from_secs_f64(s))
            } else {
                Err(errors::value_error(format!(
                    "ttl_seconds must be a positive number, got {s}"
                )))
            }
        })
        .transpose()
}

impl CompressedCache {
    fn put_value(
        &self,
        key: &str,
        value: &Value<'_>,
        opts: PutOptions,
    ) -> PyResult<zcache::PutReport> {
        match value {
            Value::Bytes(b) => self.cache.put_with(key, *b, opts),
            Value::Text(s) => self.cache.put_with(key, *s, opts),
            Value::Array(image, codec) => {
                let opts = match (opts.compression, codec) {
                    (None, Some(c)) => opts.compression(*c),
                    _ => opts,
                };
                self.cache.put_with(key, image.as_slice(), opts)
            }
        }
        .map_err(errors::cache)
    }
}

/// The `.npy` image of a NumPy array (C order) and the codec for its element width.
fn array_image(array: &Bound<'_, PyAny>, default: Codec) -> PyResult<(Vec<u8>, Option<Codec>)> {
    let py = array.py();
    let arr = crate::optimize::contiguous(array, "value")?;
    let dtype = arr.dtype();
    let kind: String = dtype.getattr("kind")?.extract()?;
    if !matches!(kind.as_str(), "b" | "i" | "u" | "f" | "c") {
        return Err(PyTypeError::new_err(format!(
            "CompressedCache stores bool, integer, float and complex arrays, not dtype {}",
            dtype.str()?
        )));
    }
    let descr: String = dtype.str()?.extract()?;
    let itemsize = dtype.itemsize();
    let component = if kind == "c" { itemsize / 2 } else { itemsize };
    let shape = arr.shape().to_vec();
    // The data as bytes, without a copy: a flat uint8 view of the contiguous array.
    let flat = arr
        .call_method1("reshape", (-1,))?
        .call_method1("view", (py.import("numpy")?.getattr("uint8")?,))?;
    let flat = flat.cast_into::<PyArray1<u8>>()?;
    let ro = flat.try_readonly()?;
    let data = ro
        .as_slice()
        .map_err(|e| errors::value_error(e.to_string()))?;
    let mut image = npy_header(&descr, &shape);
    py.detach(|| {
        image.reserve_exact(data.len());
        image.extend_from_slice(data);
    });
    Ok((image, array_codec(default, component)))
}

/// A NumPy array over a `.npy` image (the image's buffer is moved into NumPy, not copied).
fn array_from_image<'py>(
    py: Python<'py>,
    image: Vec<u8>,
    descr: &str,
    shape: &[usize],
    offset: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let np = py.import("numpy")?;
    let len = image.len();
    let base = PyArray1::from_vec(py, image);
    let data = base.get_item(PySlice::new(py, offset.try_into()?, len.try_into()?, 1))?;
    data.call_method1("view", (np.call_method1("dtype", (descr,))?,))?
        .call_method1("reshape", (shape.to_vec(),))
}

#[pymethods]
impl CompressedCache {
    #[new]
    #[pyo3(signature = (max_memory_mb = 500.0, compression = "lz4", disk_dir = None, ttl_seconds = None,
        *, max_disk_mb = None, sync_writes = true, read_only = false))]
    #[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
    fn new(
        py: Python<'_>,
        max_memory_mb: f64,
        compression: &str,
        disk_dir: Option<PathBuf>,
        ttl_seconds: Option<f64>,
        max_disk_mb: Option<f64>,
        sync_writes: bool,
        read_only: bool,
    ) -> PyResult<Self> {
        let codec = parse_codec(compression)?;
        let memory = if max_memory_mb == 0.0 {
            0
        } else {
            mb_to_bytes("max_memory_mb", max_memory_mb)?
        };
        let mut b = RustCache::builder()
            .max_memory(memory)
            .default_compression(codec)
            .sync_writes(sync_writes)
            .read_only(read_only);
        if let Some(dir) = disk_dir {
            b = b.enable_disk_cache(dir);
        }
        if let Some(max) = max_disk_mb {
            b = b.max_disk(mb_to_bytes("max_disk_mb", max)?);
        }
        if let Some(t) = ttl(ttl_seconds)? {
            b = b.default_ttl(t);
        }
        let cache = py.detach(|| b.build()).map_err(errors::cache)?;
        Ok(Self {
            cache,
            default_codec: codec,
        })
    }

    /// Stores `value` (bytes, bytearray, memoryview, str or a NumPy array) under `key`.
    #[pyo3(signature = (key, value, ttl_seconds = None, *, compression = None))]
    fn put<'py>(
        &self,
        py: Python<'py>,
        key: &str,
        value: &Bound<'py, PyAny>,
        ttl_seconds: Option<f64>,
        compression: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut opts = PutOptions::new();
        if let Some(t) = ttl(ttl_seconds)? {
            opts = opts.ttl(t);
        }
        if let Some(c) = compression {
            opts = opts.compression(parse_codec(c)?);
        }
        let report = if let Ok(b) = value.cast::<PyBytes>() {
            let bytes = b.as_bytes();
            py.detach(|| self.put_value(key, &Value::Bytes(bytes), opts))?
        } else if let Ok(s) = value.cast::<PyString>() {
            let text = s.to_cow()?;
            py.detach(|| self.put_value(key, &Value::Text(&text), opts))?
        } else if value.cast::<PyByteArray>().is_ok()
            || value.hasattr("tobytes")? && !value.hasattr("dtype")?
        {
            // bytearray and memoryview: their bytes (one copy, as bytes(value) would make).
            let owned: Vec<u8> = if let Ok(ba) = value.cast::<PyByteArray>() {
                ba.to_vec()
            } else {
                value
                    .call_method0("tobytes")?
                    .cast_into::<PyBytes>()?
                    .as_bytes()
                    .to_vec()
            };
            py.detach(|| self.put_value(key, &Value::Bytes(&owned), opts))?
        } else if value.hasattr("dtype")? && value.hasattr("shape")? {
            let (image, codec) = array_image(value, self.default_codec)?;
            py.detach(|| self.put_value(key, &Value::Array(image, codec), opts))?
        } else {
            return Err(PyTypeError::new_err(format!(
                "CompressedCache stores bytes, str and numpy arrays, got {}",
                value.get_type().name()?
            )));
        };
        to_py(py, &report)
    }

    /// The value under `key` (the type it was stored as), or None on a miss.
    fn get<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(kind) = py.detach(|| self.cache.kind_of(key)) else {
            // Counts the miss in the statistics.
            let _ = py.detach(|| self.cache.get_bytes(key));
            return Ok(None);
        };
        macro_rules! numeric {
            ($t:ty) => {
                py.detach(|| self.cache.get_vec::<$t>(key))
                    .map_err(errors::cache)?
                    .map(|v| PyArray1::from_vec(py, v).into_any())
            };
        }
        Ok(match kind {
            ValueKind::Bytes => {
                let Some(bytes) = py
                    .detach(|| self.cache.get_bytes(key))
                    .map_err(errors::cache)?
                else {
                    return Ok(None);
                };
                match parse_npy(&bytes) {
                    Some((descr, shape, offset)) => {
                        Some(array_from_image(py, bytes, &descr, &shape, offset)?)
                    }
                    None => Some(PyBytes::new(py, &bytes).into_any()),
                }
            }
            ValueKind::Text => py
                .detach(|| self.cache.get_string(key))
                .map_err(errors::cache)?
                .map(|s| PyString::new(py, &s).into_any()),
            ValueKind::Numeric(e) => match e {
                ElemType::I8 => numeric!(i8),
                ElemType::U16 => numeric!(u16),
                ElemType::I16 => numeric!(i16),
                ElemType::U32 => numeric!(u32),
                ElemType::I32 => numeric!(i32),
                ElemType::U64 => numeric!(u64),
                ElemType::I64 => numeric!(i64),
                ElemType::F32 => numeric!(f32),
                ElemType::F64 => numeric!(f64),
                ElemType::F16 | ElemType::BF16 => {
                    return Err(errors::error(
                        errors::Kind::Cache,
                        format!(
                            "key {key:?} holds a [{}] value, which NumPy cannot represent here",
                            e.name()
                        ),
                    ));
                }
            },
            ValueKind::Serde(_) => {
                return Err(errors::error(
                    errors::Kind::Cache,
                    format!("key {key:?} holds a {kind} written by Rust code; read it from Rust"),
                ));
            }
        })
    }

    /// Removes `key`; True if it was there.
    fn remove(&self, py: Python<'_>, key: &str) -> PyResult<bool> {
        py.detach(|| self.cache.remove(key)).map_err(errors::cache)
    }

    /// Whether `key` is held (unexpired) in either tier; not counted as a hit or miss.
    fn contains(&self, py: Python<'_>, key: &str) -> bool {
        py.detach(|| self.cache.contains(key))
    }

    fn __contains__(&self, py: Python<'_>, key: &str) -> bool {
        self.contains(py, key)
    }

    /// Every key held in either tier.
    fn keys(&self, py: Python<'_>) -> Vec<String> {
        py.detach(|| self.cache.keys())
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        self.keys(py).len()
    }

    /// Empties both tiers; returns how many disk files were removed.
    fn clear(&self, py: Python<'_>) -> PyResult<u64> {
        py.detach(|| self.cache.clear()).map_err(errors::cache)
    }

    /// Statistics: hit_rate, compression_ratio, compression_savings_mb, entries and bytes per
    /// tier, evictions, corrupt entries, ...
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let s = py.detach(|| self.cache.get_stats());
        to_py(py, &s)
    }

    /// Removes expired entries and enforces the budgets now; returns what it did.
    fn optimize<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let r = py.detach(|| self.cache.optimize());
        to_py(py, &r)
    }

    /// Checks every disk entry's checksum (damaged entries are removed); returns the counts.
    fn verify<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let r = py.detach(|| self.cache.verify()).map_err(errors::cache)?;
        to_py(py, &r)
    }

    /// Writes memory-only entries to the disk tier; returns how many.
    fn flush(&self, py: Python<'_>) -> u64 {
        py.detach(|| self.cache.flush())
    }

    /// The disk tier's directory, or None.
    #[getter]
    fn disk_dir(&self) -> Option<PathBuf> {
        self.cache.disk_dir().map(PathBuf::from)
    }

    fn __repr__(&self) -> String {
        format!(
            "CompressedCache(compression={:?}, disk_dir={:?})",
            self.default_codec.to_string(),
            self.cache.disk_dir()
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CompressedCache>()
}
