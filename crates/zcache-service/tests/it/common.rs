//! Helpers shared by the test modules.

use std::path::PathBuf;

use zcache_service::Embeddings;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Deterministic pseudo-random unit vectors (xorshift), different per `seed`.
pub fn unit_vectors(rows: usize, dim: usize, seed: u64) -> Embeddings {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut data = Vec::with_capacity(rows * dim);
    for _ in 0..rows {
        let row: Vec<f32> = (0..dim)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect();
        let norm = row
            .iter()
            .map(|v| v * v)
            .sum::<f32>()
            .sqrt()
            .max(f32::MIN_POSITIVE);
        data.extend(row.iter().map(|v| v / norm));
    }
    Embeddings::new(data, rows, dim).expect("rows * dim values")
}

/// Texts for `rows` rows, tagged with `tag` so different saves are told apart.
pub fn texts(rows: usize, tag: &str) -> Vec<String> {
    (0..rows)
        .map(|i| {
            format!(
                "{tag} passage {i}: naïve café — ünïcödé ✓ {}",
                "x".repeat(i % 7)
            )
        })
        .collect()
}

/// Every regular file under `dir`, recursively, with its size.
pub fn files_under(dir: &std::path::Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("readable dir") {
            let entry = entry.expect("dir entry");
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                out.push((entry.path(), meta.len()));
            }
        }
    }
    out.sort();
    out
}
