//! What `optimize_batch` and the stream optimizer are allowed to change.

use crate::error::OptimizeError;

/// When a string column is worth turning into a dictionary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DictionaryThreshold {
    /// At most this fraction (0..=1) of the non-null values may be distinct. `Ratio(0.5)` is the
    /// classic pandas rule for `category`.
    Ratio(f64),
    /// At most this many distinct values, whatever the row count.
    Distinct(usize),
}

impl DictionaryThreshold {
    /// The largest distinct count accepted for a column with `non_null` values.
    #[must_use]
    pub fn max_distinct(self, non_null: usize) -> usize {
        match self {
            // Truncation is intended: a ratio limit is "at most".
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss,
                reason = "ratio is validated to 0..=1, so the product is within 0..=non_null"
            )]
            Self::Ratio(r) => (r * non_null as f64).floor() as usize,
            Self::Distinct(n) => n,
        }
    }
}

/// Options for [`optimize_batch`](crate::optimize_batch) and
/// [`StreamOptimizer`](crate::StreamOptimizer).
///
/// The default is **lossless**: every value can be cast back to the input type unchanged.
/// Only [`allow_lossy_float`](Self::allow_lossy_float) can make the result lossy, and only
/// when you set it.
///
/// ```
/// use mem_optimize::{DictionaryThreshold, OptimizeOptions};
/// let opts = OptimizeOptions::default()
///     .dictionary_threshold(DictionaryThreshold::Distinct(1_000))
///     .floats_to_f32(false);
/// assert!(opts.shrink_integers);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OptimizeOptions {
    /// Turn `Utf8`/`LargeUtf8` columns into dictionaries (keys `Int8`, `Int16` or `Int32`,
    /// the narrowest that indexes every distinct value) when their cardinality is within
    /// [`dictionary_threshold`](Self::dictionary_threshold). Default `true`.
    pub strings_to_dictionary: bool,
    /// Maximum distinct values (as a ratio of non-null rows, or an absolute count) for a string
    /// column to become a dictionary. Default `Ratio(0.5)`. Counting stops as soon as the
    /// limit is passed, so high-cardinality text costs little.
    pub dictionary_threshold: DictionaryThreshold,
    /// Narrow integer columns to the smallest type that holds their min and max. Default `true`.
    pub shrink_integers: bool,
    /// Let a signed integer column whose minimum is `>= 0` become unsigned (e.g. 0..=255 in
    /// `UInt8` rather than `Int16`). Unsigned inputs always stay unsigned. Default `true`;
    /// turn off when consumers dislike unsigned types.
    pub allow_unsigned: bool,
    /// Turn `Float64` columns into `Float32` when every value round-trips bit for bit (±inf,
    /// -0.0 and the canonical NaN do; a NaN with an unusual payload does not). Default `true`.
    pub floats_to_f32: bool,
    /// `Some(tol)` lets `Float64` become `Float32` when every value's rounding error is within
    /// `tol` (absolute below 1.0, relative at or above: `|v - v32| <= tol * max(1, |v|)`);
    /// finite values that overflow `f32` never qualify, any NaN does. Default `None` (exact only). This is
    /// the only lossy setting.
    pub allow_lossy_float: Option<f64>,
}

impl Default for OptimizeOptions {
    fn default() -> Self {
        Self {
            strings_to_dictionary: true,
            dictionary_threshold: DictionaryThreshold::Ratio(0.5),
            shrink_integers: true,
            allow_unsigned: true,
            floats_to_f32: true,
            allow_lossy_float: None,
        }
    }
}

impl OptimizeOptions {
    /// Options that change nothing (every column is kept as is); useful as a baseline.
    #[must_use]
    pub fn none() -> Self {
        Self {
            strings_to_dictionary: false,
            shrink_integers: false,
            allow_unsigned: false,
            floats_to_f32: false,
            ..Self::default()
        }
    }

    /// A preset for memory pressure: everything the default does, plus dictionaries up to a
    /// 0.9 distinct ratio and unsigned targets. Still lossless (`allow_lossy_float` is kept as
    /// it was: pressure never makes a result lossy by itself).
    #[must_use]
    pub fn tighter(self) -> Self {
        let threshold = match self.dictionary_threshold {
            DictionaryThreshold::Ratio(r) => DictionaryThreshold::Ratio(r.max(0.9)),
            other @ DictionaryThreshold::Distinct(_) => other,
        };
        Self {
            strings_to_dictionary: true,
            dictionary_threshold: threshold,
            shrink_integers: true,
            allow_unsigned: true,
            floats_to_f32: true,
            allow_lossy_float: self.allow_lossy_float,
        }
    }

    /// Sets [`strings_to_dictionary`](Self::strings_to_dictionary).
    #[must_use]
    pub fn strings_to_dictionary(mut self, on: bool) -> Self {
        self.strings_to_dictionary = on;
        self
    }

    /// Sets [`dictionary_threshold`](Self::dictionary_threshold).
    #[must_use]
    pub fn dictionary_threshold(mut self, threshold: DictionaryThreshold) -> Self {
        self.dictionary_threshold = threshold;
        self
    }

    /// Sets [`shrink_integers`](Self::shrink_integers).
    #[must_use]
    pub fn shrink_integers(mut self, on: bool) -> Self {
        self.shrink_integers = on;
        self
    }

    /// Sets [`allow_unsigned`](Self::allow_unsigned).
    #[must_use]
    pub fn allow_unsigned(mut self, on: bool) -> Self {
        self.allow_unsigned = on;
        self
    }

    /// Sets [`floats_to_f32`](Self::floats_to_f32).
    #[must_use]
    pub fn floats_to_f32(mut self, on: bool) -> Self {
        self.floats_to_f32 = on;
        self
    }

    /// Sets [`allow_lossy_float`](Self::allow_lossy_float) (`None` = exact only).
    #[must_use]
    pub fn lossy_float(mut self, tolerance: Option<f64>) -> Self {
        self.allow_lossy_float = tolerance;
        self
    }

    /// Checks the settings: the dictionary ratio must be within 0..=1 and the float tolerance
    /// finite and non-negative.
    ///
    /// # Errors
    /// [`OptimizeError::InvalidConfig`] naming the setting.
    pub fn validate(&self) -> Result<(), OptimizeError> {
        if let DictionaryThreshold::Ratio(r) = self.dictionary_threshold
            && !(0.0..=1.0).contains(&r)
        {
            return Err(OptimizeError::InvalidConfig(format!(
                "dictionary_threshold ratio must be within 0..=1, got {r}"
            )));
        }
        if let Some(tol) = self.allow_lossy_float
            && !(tol.is_finite() && tol >= 0.0)
        {
            return Err(OptimizeError::InvalidConfig(format!(
                "allow_lossy_float tolerance must be finite and >= 0, got {tol}"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_lossless_and_valid() {
        let o = OptimizeOptions::default();
        assert_eq!(o.allow_lossy_float, None);
        o.validate().unwrap();
        assert!(o.clone().tighter().allow_lossy_float.is_none());
    }

    #[test]
    fn rejects_bad_settings() {
        let bad = OptimizeOptions::default().dictionary_threshold(DictionaryThreshold::Ratio(1.5));
        assert!(
            matches!(bad.validate(), Err(OptimizeError::InvalidConfig(m)) if m.contains("ratio"))
        );
        let bad = OptimizeOptions::default().lossy_float(Some(f64::NAN));
        assert!(bad.validate().is_err());
        let bad = OptimizeOptions::default().lossy_float(Some(-1.0));
        assert!(bad.validate().is_err());
    }

    #[test]
    fn threshold_limits() {
        assert_eq!(DictionaryThreshold::Ratio(0.5).max_distinct(10), 5);
        assert_eq!(DictionaryThreshold::Distinct(7).max_distinct(1), 7);
        assert_eq!(DictionaryThreshold::Ratio(0.5).max_distinct(0), 0);
    }

    #[test]
    fn tighter_raises_ratio() {
        let t = OptimizeOptions::default().tighter();
        assert_eq!(t.dictionary_threshold, DictionaryThreshold::Ratio(0.9));
    }
}
