//! A deterministic generator of the benchmark CSV (feature `testdata`).
//!
//! The schema, from the workspace's benchmark issue, is 12 columns of about 318 bytes a row:
//! `id` int64 sequential; `small_int` 0..=100; `medium_int` 0..=1,000,000; `big_int` within
//! +/-1e15; `price` a 2-decimal float 0.01..9999.99; `score` normal(0,1); `flag` true/false;
//! `category` 20 values, Zipf-weighted; `city` 5,000 distinct names; `created_at` an ISO
//! timestamp in 2020..2025; `nullable_int` 0..=50,000 with 5 % empty; `text` 20..400 characters
//! of words from a 200-word vocabulary, 10 % with a comma and double quotes, 1 % with a line
//! break. Floats are written in shortest round-trip form; fields are quoted only where needed.
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("bench.csv");
//! let bytes = mem_stream::testdata::write_bench_csv(&path, 1_000, 42)?;
//! assert!(bytes > 200_000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{BufWriter, Write};
use std::path::Path;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Normal, Zipf};

/// Average bytes per row of the benchmark CSV (so 1 GB is about 3.37 M rows).
pub const BENCH_BYTES_PER_ROW: u64 = 318;

/// Column names of the benchmark CSV, in order.
pub const BENCH_COLUMNS: [&str; 12] = [
    "id",
    "small_int",
    "medium_int",
    "big_int",
    "price",
    "score",
    "flag",
    "category",
    "city",
    "created_at",
    "nullable_int",
    "text",
];

/// Rows that make a benchmark CSV of about `bytes` bytes.
#[must_use]
pub fn rows_for_bytes(bytes: u64) -> u64 {
    (bytes / BENCH_BYTES_PER_ROW).max(1)
}

const SYLLABLES: [&str; 32] = [
    "ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ba", "de", "fi", "go", "ha", "ju", "ke", "li",
    "mo", "nu", "pa", "qui", "ro", "su", "ta", "ve", "wa", "xe", "yo", "za", "bri", "cla", "dro",
    "fle",
];

fn word(mut n: usize, parts: usize) -> String {
    let mut w = String::new();
    for _ in 0..parts {
        w.push_str(SYLLABLES.get(n % SYLLABLES.len()).copied().unwrap_or("a"));
        n /= SYLLABLES.len();
    }
    w
}

/// `YYYY-MM-DDTHH:MM:SS` for seconds since the Unix epoch (civil-from-days, Howard Hinnant).
fn iso(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

fn push_field(line: &mut String, value: &str) {
    if value.contains([',', '"', '\n', '\r']) {
        line.push('"');
        line.push_str(&value.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(value);
    }
}

/// Writes `rows` rows of the benchmark CSV (with a header) to `path`, deterministically for a
/// given `seed`, and returns the bytes written.
///
/// # Errors
/// Creating or writing the file.
pub fn write_bench_csv(path: &Path, rows: u64, seed: u64) -> std::io::Result<u64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let vocab: Vec<String> = (0..200).map(|i| word(i * 7 + 3, 2 + i % 3)).collect();
    let cities: Vec<String> = (0..5000)
        .map(|i| {
            let mut c = word(i, 3);
            if let Some(f) = c.get_mut(0..1) {
                f.make_ascii_uppercase();
            }
            c
        })
        .collect();
    let categories: Vec<String> = (0..20).map(|i| format!("cat_{}", word(i, 2))).collect();
    let zipf = Zipf::new(20.0, 1.1).map_err(|e| std::io::Error::other(e.to_string()))?;
    let normal = Normal::new(0.0, 1.0).map_err(|e| std::io::Error::other(e.to_string()))?;
    let start = 1_577_836_800_i64; // 2020-01-01
    let end = 1_735_689_600_i64; // 2025-01-01
    let file = std::fs::File::create(path)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let header = BENCH_COLUMNS.join(",");
    writeln!(out, "{header}")?;
    let mut written = header.len() as u64 + 1;
    let mut line = String::with_capacity(1024);
    let mut text = String::with_capacity(512);
    for id in 0..rows {
        line.clear();
        let small: u32 = rng.random_range(0..=100);
        let medium: u32 = rng.random_range(0..=1_000_000);
        let big: i64 = rng.random_range(-1_000_000_000_000_000..=1_000_000_000_000_000);
        let cents: u32 = rng.random_range(1..=999_999);
        let price = f64::from(cents) / 100.0;
        let score: f64 = normal.sample(&mut rng);
        let flag = rng.random_bool(0.5);
        let cat_index = (zipf.sample(&mut rng) as usize).saturating_sub(1);
        let category = categories.get(cat_index).map_or("cat", String::as_str);
        let city = cities
            .get(rng.random_range(0..cities.len()))
            .map_or("City", String::as_str);
        let created = iso(rng.random_range(start..end));
        let nullable = (!rng.random_bool(0.05)).then(|| rng.random_range(0..=50_000u32));
        let target_len: usize = rng.random_range(20..=400);
        text.clear();
        while text.len() < target_len {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(
                vocab
                    .get(rng.random_range(0..vocab.len()))
                    .map_or("w", String::as_str),
            );
        }
        text.truncate(target_len);
        if rng.random_bool(0.10) {
            let at = text.len() / 2;
            if text.is_char_boundary(at) {
                text.insert_str(at, ", \"quoted\"");
            }
        }
        if rng.random_bool(0.01) {
            let at = text.len() / 3;
            if text.is_char_boundary(at) {
                text.insert(at, '\n');
            }
        }
        use std::fmt::Write as _;
        let _ = write!(
            line,
            "{id},{small},{medium},{big},{price},{score},{flag},{category},{city},{created},"
        );
        if let Some(n) = nullable {
            let _ = write!(line, "{n}");
        }
        line.push(',');
        push_field(&mut line, &text);
        line.push('\n');
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
    }
    out.flush()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_sized() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.csv");
        let b = d.path().join("b.csv");
        let n = write_bench_csv(&a, 2000, 7).unwrap();
        write_bench_csv(&b, 2000, 7).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let per_row = n / 2000;
        assert!((250..400).contains(&per_row), "{per_row} bytes a row");
        assert_eq!(iso(0), "1970-01-01T00:00:00");
        assert_eq!(iso(1_735_689_599), "2024-12-31T23:59:59");
    }
}
