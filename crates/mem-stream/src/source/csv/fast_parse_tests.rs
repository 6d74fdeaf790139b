//! The fast parsers against Arrow's, on strings near and inside the fast paths.

use arrow::compute::kernels::cast_utils::Parser;
use arrow::datatypes::{Date32Type, Float64Type, Int64Type, TimeUnit, UInt64Type};
use proptest::prelude::*;

use super::*;

fn arrow_ts(s: &str, unit: TimeUnit) -> Option<i64> {
    let utc: Tz = "+00:00".parse().ok()?;
    let t = string_to_datetime(&utc, s).ok()?;
    match unit {
        TimeUnit::Second => Some(t.timestamp()),
        TimeUnit::Millisecond => Some(t.timestamp_millis()),
        TimeUnit::Microsecond => Some(t.timestamp_micros()),
        TimeUnit::Nanosecond => t.timestamp_nanos_opt(),
    }
}

fn same_float(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
        (None, None) => true,
        _ => false,
    }
}

#[test]
fn examples() {
    for s in [
        "",
        "-",
        "0",
        "-0",
        "+1",
        " 1",
        "1 ",
        "123456789012345678",
        "1234567890123456789",
        "-9223372036854775808",
        "9223372036854775808",
        "1.",
        ".5",
        "1e5",
        "0.1",
        "9999.99",
        "-0.000",
        "1.2.3",
        "NaN",
        "inf",
        "0012",
    ] {
        assert_eq!(int64(s), Int64Type::parse(s), "{s:?}");
        assert_eq!(uint64(s), UInt64Type::parse(s), "{s:?}");
        assert!(same_float(float64(s), Float64Type::parse(s)), "{s:?}");
    }
    for s in [
        "2020-01-01T00:00:00",
        "2020-02-29 23:59:59",
        "2021-02-29T00:00:00",
        "1969-12-31T23:59:59",
        "2020-13-01T00:00:00",
        "2020-01-01T24:00:00",
        "2020-01-01T00:00:60",
        "0000-01-01T00:00:00",
        "2020-01-01",
        "2020-01-01T00:00:00Z",
        "2020-01-01T00:00:00.5",
        "9999-12-31T23:59:59",
    ] {
        for unit in [
            TimeUnit::Second,
            TimeUnit::Millisecond,
            TimeUnit::Microsecond,
            TimeUnit::Nanosecond,
        ] {
            assert_eq!(timestamp(s, unit), arrow_ts(s, unit), "{s:?} {unit:?}");
        }
        assert_eq!(date32(s), Date32Type::parse(s), "{s:?}");
    }
}

proptest! {
    #[test]
    fn ints_agree(s in "[-+ ]?[0-9]{0,20}[ x]?") {
        prop_assert_eq!(int64(&s), Int64Type::parse(&s));
        prop_assert_eq!(uint64(&s), UInt64Type::parse(&s));
    }

    #[test]
    fn floats_agree(s in "-?[0-9]{0,12}(\\.[0-9]{0,12})?(e-?[0-9]{1,2})?") {
        prop_assert!(same_float(float64(&s), Float64Type::parse(&s)), "{:?}", s);
    }

    #[test]
    fn floats_agree_on_values(v in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL) {
        let s = v.to_string();
        prop_assert!(same_float(float64(&s), Float64Type::parse(&s)), "{:?}", s);
        let cents = format!("{:.2}", v % 1e9);
        prop_assert!(same_float(float64(&cents), Float64Type::parse(&cents)), "{:?}", cents);
    }

    #[test]
    fn timestamps_agree(
        y in 0i32..10_000, m in 0u32..14, d in 0u32..33, h in 0u32..26, mi in 0u32..61,
        sec in 0u32..62, sep in prop::sample::select(vec!['T', ' ', 't'])
    ) {
        let s = format!("{y:04}-{m:02}-{d:02}{sep}{h:02}:{mi:02}:{sec:02}");
        for unit in [TimeUnit::Second, TimeUnit::Millisecond, TimeUnit::Microsecond, TimeUnit::Nanosecond] {
            prop_assert_eq!(timestamp(&s, unit), arrow_ts(&s, unit), "{:?} {:?}", s, unit);
        }
        let date = format!("{y:04}-{m:02}-{d:02}");
        prop_assert_eq!(date32(&date), Date32Type::parse(&date), "{:?}", date);
    }

    #[test]
    fn booleans_agree(s in "(?i)(true|false|t|f|yes|1|0| true)") {
        let arrow = if s.eq_ignore_ascii_case("false") {
            Some(false)
        } else if s.eq_ignore_ascii_case("true") {
            Some(true)
        } else {
            None
        };
        prop_assert_eq!(boolean(&s), arrow);
    }
}
