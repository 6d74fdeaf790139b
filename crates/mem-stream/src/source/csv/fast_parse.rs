//! Value parsers of the direct CSV decoder: a fast path for the common spellings, and Arrow's own
//! parser (`arrow::compute::kernels::cast_utils::Parser`, what arrow-csv calls) for everything
//! else, so a value parses to exactly what arrow-csv makes of it or fails where it fails.
//!
//! The fast paths only accept strict subsets of what Arrow accepts, and give the same value:
//! - integers: an optional `-` and 1 to 18 ASCII digits (no overflow possible);
//! - floats: an optional `-`, digits, optionally `.` and digits, at most 15 significant digits
//!   and 22 decimals: the mantissa and the power of ten are exact doubles, so one division is
//!   correctly rounded (Clinger's fast path), as lexical's result is;
//! - timestamps without a time zone: `YYYY-MM-DDTHH:MM:SS` (or a space for `T`), valid fields;
//! - dates: `YYYY-MM-DD`.

use crate::source::days_from_civil;
use arrow::array::timezone::Tz;
use arrow::compute::kernels::cast_utils::{Parser, string_to_datetime};
use arrow::datatypes::{Date32Type, Float64Type, Int64Type, TimeUnit, UInt64Type};

/// Powers of ten exact in an `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Digits of `b` as a number, if all are ASCII digits and there are 1 to 18 of them.
#[inline]
fn digits18(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 18 {
        return None;
    }
    let mut n = 0u64;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + u64::from(d);
    }
    Some(n)
}

#[inline]
pub(super) fn int64(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let (neg, digits) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    match digits18(digits) {
        // 18 digits are below 2^63.
        Some(n) => {
            let n = n as i64;
            Some(if neg { -n } else { n })
        }
        None => Int64Type::parse(s),
    }
}

#[inline]
pub(super) fn uint64(s: &str) -> Option<u64> {
    digits18(s.as_bytes()).or_else(|| UInt64Type::parse(s))
}

#[inline]
pub(super) fn float64(s: &str) -> Option<f64> {
    fast_float(s.as_bytes()).or_else(|| Float64Type::parse(s))
}

fn fast_float(b: &[u8]) -> Option<f64> {
    let (neg, b) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    let (int, frac) = match memchr::memchr(b'.', b) {
        Some(p) => (b.get(..p)?, b.get(p + 1..)?),
        None => (b, &b""[..]),
    };
    if int.is_empty() || (frac.is_empty() && int.len() < b.len()) {
        return None;
    }
    if int.len() + frac.len() > 15 || frac.len() >= POW10.len() {
        return None;
    }
    let i = digits18(int)?;
    let f = if frac.is_empty() { 0 } else { digits18(frac)? };
    let scale = POW10.get(frac.len()).copied()?;
    let mantissa = (i as f64) * scale + f as f64; // exact: below 10^15
    let v = mantissa / scale;
    Some(if neg { -v } else { v })
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

#[inline]
fn num(b: &[u8]) -> Option<i64> {
    digits18(b).map(|n| n as i64)
}

/// Days since the epoch of `YYYY-MM-DD` (exactly 10 bytes, a valid date).
fn fast_date(b: &[u8]) -> Option<i64> {
    if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let y = num(b.get(0..4)?)?;
    let m = num(b.get(5..7)?)?;
    let d = num(b.get(8..10)?)?;
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS` (or a space for `T`), UTC.
fn fast_seconds(b: &[u8]) -> Option<i64> {
    if b.len() != 19 || !matches!(b.get(10), Some(b'T' | b' ')) {
        return None;
    }
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let days = fast_date(b.get(..10)?)?;
    let h = num(b.get(11..13)?)?;
    let mi = num(b.get(14..16)?)?;
    let s = num(b.get(17..19)?)?;
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    Some(days * 86_400 + h * 3600 + mi * 60 + s)
}

#[inline]
pub(super) fn date32(s: &str) -> Option<i32> {
    fast_date(s.as_bytes())
        .and_then(|d| i32::try_from(d).ok())
        .or_else(|| Date32Type::parse(s))
}

/// A timestamp without a time zone in `unit`, as arrow-csv reads it (UTC).
#[inline]
pub(super) fn timestamp(s: &str, unit: TimeUnit) -> Option<i64> {
    let per_second: i64 = match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    };
    if let Some(v) = fast_seconds(s.as_bytes()).and_then(|t| t.checked_mul(per_second)) {
        return Some(v);
    }
    // What arrow-csv does: `string_to_datetime(&Utc, s)` in the column's unit (a zero fixed
    // offset reads every string as UTC does).
    let utc: Tz = "+00:00".parse().ok()?;
    let t = string_to_datetime(&utc, s).ok()?;
    match unit {
        TimeUnit::Second => Some(t.timestamp()),
        TimeUnit::Millisecond => Some(t.timestamp_millis()),
        TimeUnit::Microsecond => Some(t.timestamp_micros()),
        TimeUnit::Nanosecond => t.timestamp_nanos_opt(),
    }
}

#[inline]
pub(super) fn boolean(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else {
        None
    }
}

#[cfg(test)]
#[path = "fast_parse_tests.rs"]
mod tests;
