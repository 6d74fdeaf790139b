//! The explicit per-kind helpers (`put_str`, `get_vec::<f32>`, `put_json`, ...) over the
//! generic `put`/`get`.

use serde::Serialize;

use crate::cache::CompressedCache;
use crate::error::CacheError;
use crate::options::{PutOptions, PutReport};
use crate::value::{Element, Json, serde_kind};

impl CompressedCache {
    /// Stores bytes.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    pub fn put_bytes(&self, key: &str, value: &[u8]) -> Result<PutReport, CacheError> {
        self.put(key, value)
    }

    /// Reads bytes.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        self.get::<[u8]>(key)
    }

    /// Stores text.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    pub fn put_str(&self, key: &str, value: &str) -> Result<PutReport, CacheError> {
        self.put(key, value)
    }

    /// Reads text.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub fn get_string(&self, key: &str) -> Result<Option<String>, CacheError> {
        self.get::<str>(key)
    }

    /// Stores a typed numeric slice (`Auto` byte-shuffles it).
    ///
    /// # Errors
    /// As [`put`](Self::put).
    pub fn put_slice<T: Element>(&self, key: &str, value: &[T]) -> Result<PutReport, CacheError> {
        self.put(key, value)
    }

    /// Reads a typed numeric slice stored with the same element type.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub fn get_vec<T: Element>(&self, key: &str) -> Result<Option<Vec<T>>, CacheError> {
        self.get::<[T]>(key)
    }

    /// Stores any serde value as JSON, tagged with its type.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    pub fn put_json<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<PutReport, CacheError> {
        self.put_json_with(key, value, PutOptions::default())
    }

    /// Stores any serde value as JSON with per-put options (no `DeserializeOwned` bound, unlike
    /// `put_with(key, &Json(..))`, so borrowed data can be stored).
    ///
    /// # Errors
    /// As [`put`](Self::put).
    pub fn put_json_with<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        options: PutOptions,
    ) -> Result<PutReport, CacheError> {
        let raw = serde_json::to_vec(value).map_err(|source| CacheError::Serde {
            key: key.to_owned(),
            source,
        })?;
        self.put_raw(key, &raw, serde_kind::<T>(), options)
    }

    /// Reads a serde value stored as the same type `T`.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub fn get_json<T: Serialize + serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, CacheError> {
        self.get::<Json<T>>(key)
    }
}
