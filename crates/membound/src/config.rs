//! [`Config`]: the `MEMBOUND_*` environment variables (the original guide's `BERTOPIC_*` names
//! still honoured), or a TOML file.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a configuration could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An environment variable (or TOML key) holds a value it cannot take.
    #[error("invalid value {value:?} for {var}: {reason}")]
    InvalidValue {
        /// The variable, e.g. `BERTOPIC_MAX_MEMORY_MB`.
        var: &'static str,
        /// The value as given.
        value: String,
        /// What a valid value looks like.
        reason: &'static str,
    },
    /// A configuration file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A configuration file is not valid TOML for [`Config`].
    #[error("invalid configuration file {path}: {source}")]
    Toml {
        /// The file.
        path: PathBuf,
        /// The parse error, with line and column.
        #[source]
        source: Box<toml::de::Error>,
    },
}

/// The compression method caches use by default (`MEMBOUND_COMPRESSION_METHOD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompressionMethod {
    /// Store values as they are.
    None,
    /// LZ4: fast compression and decompression (the default).
    #[default]
    Lz4,
    /// GZIP: good ratio, slower.
    Gzip,
    /// ZSTD: the best ratio.
    Zstd,
    /// Byte-shuffle for typed numeric arrays, then a fast codec (the guide's "numpy compressed").
    Shuffle,
}

impl FromStr for CompressionMethod {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "lz4" => Ok(Self::Lz4),
            "gzip" => Ok(Self::Gzip),
            "zstd" => Ok(Self::Zstd),
            "shuffle" | "numpy_compressed" => Ok(Self::Shuffle),
            _ => Err("expected one of lz4, gzip, zstd, shuffle, none"),
        }
    }
}

/// membound's settings, with the original guide's defaults.
///
/// ```
/// let config = membound::Config::from_lookup(|var| match var {
///     "BERTOPIC_MAX_MEMORY_MB" => Some("1500".to_owned()),
///     "BERTOPIC_COMPRESSION_METHOD" => Some("zstd".to_owned()),
///     _ => None,
/// })?;
/// assert_eq!(config.max_memory_mb, 1500.0);
/// assert_eq!(config.streaming_chunk_size, 10_000);
///
/// let bad = membound::Config::from_lookup(|var| (var == "BERTOPIC_COMPRESSION_METHOD").then(|| "brotli".to_owned()));
/// assert!(bad.unwrap_err().to_string().contains("BERTOPIC_COMPRESSION_METHOD"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Maximum memory per operation, in MB (`MEMBOUND_MAX_MEMORY_MB` or `BERTOPIC_MAX_MEMORY_MB`, default 2000).
    pub max_memory_mb: f64,
    /// Rows per streaming chunk (`MEMBOUND_STREAMING_CHUNK_SIZE` or `BERTOPIC_STREAMING_CHUNK_SIZE`, default 10,000).
    pub streaming_chunk_size: usize,
    /// Maximum cache size on disk, in GB (`MEMBOUND_CACHE_SIZE_GB` or `BERTOPIC_CACHE_SIZE_GB`, default 5.0).
    pub cache_size_gb: f64,
    /// Whether the memory monitor runs (`MEMBOUND_MEMORY_MONITORING` or `BERTOPIC_MEMORY_MONITORING`, default true).
    pub memory_monitoring: bool,
    /// Whether detailed profiling runs under High pressure (`MEMBOUND_MEMORY_PROFILE` or `BERTOPIC_MEMORY_PROFILE`, default true).
    pub memory_profile: bool,
    /// Whether caches compress (`MEMBOUND_COMPRESSION_ENABLED` or `BERTOPIC_COMPRESSION_ENABLED`, default true).
    pub compression_enabled: bool,
    /// The caches' default compression (`MEMBOUND_COMPRESSION_METHOD` or `BERTOPIC_COMPRESSION_METHOD`, default lz4).
    pub compression_method: CompressionMethod,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_memory_mb: mem_monitor::bytes_to_mb(mem_monitor::defaults::MEMORY_LIMIT),
            streaming_chunk_size: mem_monitor::defaults::CHUNK_SIZE,
            cache_size_gb: mem_monitor::bytes_to_mb(mem_monitor::defaults::CACHE_SIZE) / 1024.0,
            memory_monitoring: true,
            memory_profile: true,
            compression_enabled: true,
            compression_method: CompressionMethod::Lz4,
        }
    }
}

/// The environment variables [`Config::from_env`] reads, in the order of the guide: each
/// setting's `MEMBOUND_*` name, which wins when both are set.
pub const ENV_VARS: [&str; 7] = [
    "MEMBOUND_MAX_MEMORY_MB",
    "MEMBOUND_STREAMING_CHUNK_SIZE",
    "MEMBOUND_CACHE_SIZE_GB",
    "MEMBOUND_MEMORY_MONITORING",
    "MEMBOUND_MEMORY_PROFILE",
    "MEMBOUND_COMPRESSION_ENABLED",
    "MEMBOUND_COMPRESSION_METHOD",
];

/// The original guide's names of the same settings, in the same order: read when the
/// `MEMBOUND_*` name is unset, so an application configured for the guide keeps working.
pub const LEGACY_ENV_VARS: [&str; 7] = [
    "BERTOPIC_MAX_MEMORY_MB",
    "BERTOPIC_STREAMING_CHUNK_SIZE",
    "BERTOPIC_CACHE_SIZE_GB",
    "BERTOPIC_MEMORY_MONITORING",
    "BERTOPIC_MEMORY_PROFILE",
    "BERTOPIC_COMPRESSION_ENABLED",
    "BERTOPIC_COMPRESSION_METHOD",
];

fn invalid(var: &'static str, value: &str, reason: &'static str) -> ConfigError {
    ConfigError::InvalidValue {
        var,
        value: value.to_owned(),
        reason,
    }
}

fn positive_f64(var: &'static str, value: &str) -> Result<f64, ConfigError> {
    match value.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(invalid(var, value, "expected a positive number")),
    }
}

fn bool_value(var: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(invalid(var, value, "expected true or false")),
    }
}

impl Config {
    /// `max_memory_mb` in bytes, for the builders (which take bytes).
    #[must_use]
    pub fn max_memory_bytes(&self) -> u64 {
        mem_monitor::mb_to_bytes(self.max_memory_mb)
    }

    /// `cache_size_gb` in bytes, for the builders (which take bytes).
    #[must_use]
    pub fn cache_size_bytes(&self) -> u64 {
        mem_monitor::mb_to_bytes(self.cache_size_gb * 1024.0)
    }

    /// Reads the settings from the process environment; unset ones keep their defaults.
    ///
    /// Each setting is read from its `MEMBOUND_*` variable ([`ENV_VARS`]), or, when that is unset,
    /// from the original guide's `BERTOPIC_*` name ([`LEGACY_ENV_VARS`]): `MEMBOUND_MAX_MEMORY_MB`
    /// wins over `BERTOPIC_MAX_MEMORY_MB`. An empty value counts as unset.
    ///
    /// # Errors
    /// [`ConfigError::InvalidValue`] naming the first variable whose value is invalid.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|var| std::env::var(var).ok())
    }

    /// Like [`from_env`](Self::from_env), with variables from `lookup` (for tests, or a map).
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        // The variable that sets each setting (the new name first) and its value.
        let read = |i: usize| -> Option<(&'static str, String)> {
            [ENV_VARS[i], LEGACY_ENV_VARS[i]]
                .into_iter()
                .find_map(|var| {
                    lookup(var)
                        .filter(|v| !v.trim().is_empty())
                        .map(|v| (var, v))
                })
        };
        if let Some((max_mem, v)) = read(0) {
            c.max_memory_mb = positive_f64(max_mem, &v)?;
        }
        if let Some((chunk, v)) = read(1) {
            c.streaming_chunk_size = match v.trim().parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(invalid(
                        chunk,
                        &v,
                        "expected a whole number of rows, at least 1",
                    ));
                }
            };
        }
        if let Some((cache, v)) = read(2) {
            c.cache_size_gb = positive_f64(cache, &v)?;
        }
        if let Some((monitoring, v)) = read(3) {
            c.memory_monitoring = bool_value(monitoring, &v)?;
        }
        if let Some((profile, v)) = read(4) {
            c.memory_profile = bool_value(profile, &v)?;
        }
        if let Some((enabled, v)) = read(5) {
            c.compression_enabled = bool_value(enabled, &v)?;
        }
        if let Some((method, v)) = read(6) {
            c.compression_method = v.parse().map_err(|reason| invalid(method, &v, reason))?;
        }
        Ok(c)
    }

    /// Reads a TOML file whose keys are the field names (`max_memory_mb = 1500`, ...).
    ///
    /// # Errors
    /// [`ConfigError::Io`], [`ConfigError::Toml`], or [`ConfigError::InvalidValue`] for a value
    /// out of range.
    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        let config: Self = toml::from_str(&text).map_err(|source| ConfigError::Toml {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
        config.validate()
    }

    /// Checks the ranges that serde cannot.
    ///
    /// # Errors
    /// [`ConfigError::InvalidValue`] naming the field's variable.
    pub fn validate(self) -> Result<Self, ConfigError> {
        if !(self.max_memory_mb.is_finite() && self.max_memory_mb > 0.0) {
            return Err(invalid(
                ENV_VARS[0],
                &self.max_memory_mb.to_string(),
                "expected a positive number",
            ));
        }
        if self.streaming_chunk_size == 0 {
            return Err(invalid(
                ENV_VARS[1],
                "0",
                "expected a whole number of rows, at least 1",
            ));
        }
        if !(self.cache_size_gb.is_finite() && self.cache_size_gb > 0.0) {
            return Err(invalid(
                ENV_VARS[2],
                &self.cache_size_gb.to_string(),
                "expected a positive number",
            ));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_the_guides() {
        let c = with(&[]).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.max_memory_mb, 2000.0);
        assert_eq!(c.streaming_chunk_size, 10_000);
        assert_eq!(c.cache_size_gb, 5.0);
        assert!(c.memory_monitoring && c.memory_profile && c.compression_enabled);
        assert_eq!(c.compression_method, CompressionMethod::Lz4);
    }

    #[test]
    fn every_variable_is_read() {
        let c = with(&[
            ("BERTOPIC_MAX_MEMORY_MB", "1500"),
            ("BERTOPIC_STREAMING_CHUNK_SIZE", "8000"),
            ("BERTOPIC_CACHE_SIZE_GB", "3.0"),
            ("BERTOPIC_MEMORY_MONITORING", "false"),
            ("BERTOPIC_MEMORY_PROFILE", "0"),
            ("BERTOPIC_COMPRESSION_ENABLED", "no"),
            ("BERTOPIC_COMPRESSION_METHOD", "ZSTD"),
        ])
        .unwrap();
        assert_eq!(c.max_memory_mb, 1500.0);
        assert_eq!(c.streaming_chunk_size, 8000);
        assert_eq!(c.cache_size_gb, 3.0);
        assert!(!c.memory_monitoring && !c.memory_profile && !c.compression_enabled);
        assert_eq!(c.compression_method, CompressionMethod::Zstd);
    }

    #[test]
    fn membound_names_win_over_the_guides() {
        let c = with(&[
            ("MEMBOUND_STREAMING_CHUNK_SIZE", "5000"),
            ("BERTOPIC_STREAMING_CHUNK_SIZE", "8000"),
            ("BERTOPIC_CACHE_SIZE_GB", "3"),
            ("MEMBOUND_COMPRESSION_METHOD", ""),
            ("BERTOPIC_COMPRESSION_METHOD", "gzip"),
        ])
        .unwrap();
        assert_eq!(c.streaming_chunk_size, 5000);
        assert_eq!(c.cache_size_gb, 3.0);
        assert_eq!(c.compression_method, CompressionMethod::Gzip);
        let msg = with(&[("MEMBOUND_MAX_MEMORY_MB", "lots")])
            .unwrap_err()
            .to_string();
        assert!(msg.contains("MEMBOUND_MAX_MEMORY_MB"), "{msg}");
    }

    #[test]
    fn bad_values_name_variable_and_value() {
        for (var, value) in [
            ("BERTOPIC_COMPRESSION_METHOD", "brotli"),
            ("BERTOPIC_MAX_MEMORY_MB", "-5"),
            ("BERTOPIC_MAX_MEMORY_MB", "NaN"),
            ("BERTOPIC_STREAMING_CHUNK_SIZE", "0"),
            ("BERTOPIC_STREAMING_CHUNK_SIZE", "ten"),
            ("BERTOPIC_CACHE_SIZE_GB", "inf"),
            ("BERTOPIC_MEMORY_MONITORING", "maybe"),
        ] {
            let msg = with(&[(var, value)]).unwrap_err().to_string();
            assert!(msg.contains(var) && msg.contains(value), "{msg}");
        }
    }

    #[test]
    fn toml_file_round_trip_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("membound.toml");
        let config = Config {
            max_memory_mb: 1234.0,
            compression_method: CompressionMethod::Gzip,
            ..Config::default()
        };
        std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
        assert_eq!(Config::from_toml_file(&path).unwrap(), config);

        std::fs::write(&path, "max_memory_mb = 100\nstreaming_chunk_size = 50\n").unwrap();
        let partial = Config::from_toml_file(&path).unwrap();
        assert_eq!(
            (partial.max_memory_mb, partial.streaming_chunk_size),
            (100.0, 50)
        );
        assert_eq!(partial.cache_size_gb, 5.0);

        std::fs::write(&path, "max_memory_mb = -1\n").unwrap();
        assert!(
            Config::from_toml_file(&path)
                .unwrap_err()
                .to_string()
                .contains("MEMBOUND_MAX_MEMORY_MB")
        );
        std::fs::write(&path, "no_such_key = 1\n").unwrap();
        assert!(matches!(
            Config::from_toml_file(&path),
            Err(ConfigError::Toml { .. })
        ));
        assert!(matches!(
            Config::from_toml_file(dir.path().join("missing.toml")),
            Err(ConfigError::Io { .. })
        ));
    }
}
