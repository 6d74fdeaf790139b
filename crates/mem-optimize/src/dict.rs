//! Dictionary encoding of string columns in one hash pass.
//!
//! Counting distinct values and building the dictionary are the same work, so the analysis
//! pass keeps what it computed (one key per row and the distinct values in first-seen order)
//! and the dictionary array is assembled from it without a second hashing pass (Arrow's
//! `cast` to a dictionary would hash every value again). Each string is hashed once with
//! xxh3; the table stores that hash, so growing the table never re-hashes long strings.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, DictionaryArray, GenericStringArray, Int8Array, Int16Array, Int32Array,
    OffsetSizeTrait,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{ArrowDictionaryKeyType, DataType, Int8Type, Int16Type, Int32Type};
use arrow::error::ArrowError;

/// A string column's dictionary encoding: one key per row (0 under nulls) and the distinct
/// values in first-seen order.
#[derive(Debug, Clone)]
pub(crate) struct Encoded {
    keys: Vec<i32>,
    values: ArrayRef,
}

impl Encoded {
    /// Number of distinct values.
    pub(crate) fn distinct(&self) -> usize {
        self.values.len()
    }

    /// The dictionary array with `key_type` keys and `nulls` (the input's null buffer).
    pub(crate) fn into_array(
        self,
        key_type: &DataType,
        nulls: Option<NullBuffer>,
    ) -> Result<ArrayRef, ArrowError> {
        fn build<K: ArrowDictionaryKeyType>(
            keys: arrow::array::PrimitiveArray<K>,
            values: ArrayRef,
        ) -> Result<ArrayRef, ArrowError> {
            Ok(Arc::new(DictionaryArray::<K>::try_new(keys, values)?))
        }
        // Keys are below the distinct count, which the caller's key type holds.
        match key_type {
            DataType::Int8 => build::<Int8Type>(
                Int8Array::new(self.keys.iter().map(|&k| k as i8).collect(), nulls),
                self.values,
            ),
            DataType::Int16 => build::<Int16Type>(
                Int16Array::new(self.keys.iter().map(|&k| k as i16).collect(), nulls),
                self.values,
            ),
            DataType::Int32 => {
                build::<Int32Type>(Int32Array::new(self.keys.into(), nulls), self.values)
            }
            other => Err(ArrowError::InvalidArgumentError(format!(
                "unsupported dictionary key type {other}"
            ))),
        }
    }
}

/// A string with its precomputed hash.
#[derive(Clone, Copy)]
struct Prehashed<'a> {
    hash: u64,
    s: &'a str,
}

impl PartialEq for Prehashed<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.s == other.s
    }
}
impl Eq for Prehashed<'_> {}

impl Hash for Prehashed<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Passes a precomputed hash through.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by `Prehashed`; fold anything else so it stays a hash.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Encodes `a`, or `None` as soon as it has more than `limit` distinct non-null values.
pub(crate) fn encode<'a, O: OffsetSizeTrait>(
    a: &'a GenericStringArray<O>,
    limit: usize,
) -> Option<Encoded> {
    let mut table: HashMap<Prehashed<'a>, i32, BuildHasherDefault<PassThrough>> =
        HashMap::with_capacity_and_hasher(
            limit.saturating_add(1).min(1024),
            BuildHasherDefault::default(),
        );
    let mut distinct: Vec<&'a str> = Vec::new();
    let mut keys: Vec<i32> = Vec::with_capacity(a.len());
    let mut add = |s: &'a str| -> Option<i32> {
        let key = Prehashed {
            hash: xxhash_rust::xxh3::xxh3_64(s.as_bytes()),
            s,
        };
        Some(match table.entry(key) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => {
                if distinct.len() >= limit {
                    return None;
                }
                let id = i32::try_from(distinct.len()).ok()?;
                distinct.push(s);
                *e.insert(id)
            }
        })
    };
    if a.null_count() == 0 {
        for i in 0..a.len() {
            keys.push(add(a.value(i))?);
        }
    } else {
        for v in a.iter() {
            keys.push(match v {
                Some(s) => add(s)?,
                None => 0,
            });
        }
    }
    let values: ArrayRef = Arc::new(GenericStringArray::<O>::from_iter_values(distinct));
    Some(Encoded { keys, values })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{LargeStringArray, StringArray};
    use arrow::compute::cast;

    #[test]
    fn encodes_and_decodes() {
        let a = StringArray::from(vec![Some("x"), None, Some("y"), Some("x"), None]);
        let enc = encode(&a, 10).unwrap();
        assert_eq!(enc.distinct(), 2);
        let d = enc.into_array(&DataType::Int8, a.nulls().cloned()).unwrap();
        assert_eq!(
            cast(&d, &DataType::Utf8).unwrap().as_ref(),
            &a as &dyn Array
        );
        assert!(encode(&a, 1).is_none());
    }

    #[test]
    fn all_null_and_empty() {
        let a = LargeStringArray::from(vec![None::<&str>, None]);
        let enc = encode(&a, 0).unwrap();
        let d = enc
            .into_array(&DataType::Int16, a.nulls().cloned())
            .unwrap();
        assert_eq!(d.null_count(), 2);
        let e = StringArray::from(Vec::<&str>::new());
        assert_eq!(encode(&e, 0).unwrap().distinct(), 0);
    }

    #[test]
    fn sliced_input() {
        let a = StringArray::from(vec![Some("a"), None, Some("b"), Some("c")]);
        let s = a.slice(1, 3);
        let s = s.as_any().downcast_ref::<StringArray>().unwrap();
        let d = encode(s, 10)
            .unwrap()
            .into_array(&DataType::Int32, s.nulls().cloned())
            .unwrap();
        assert_eq!(cast(&d, &DataType::Utf8).unwrap().as_ref(), s as &dyn Array);
    }
}
