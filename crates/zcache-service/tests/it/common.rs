//! Helpers shared by the test modules.

use std::path::PathBuf;

use zcache_service::Embeddings;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Deterministic pseudo-random unit vectors, different per `seed`.
pub fn unit_vectors(rows: usize, dim: usize, seed: u64) -> Embeddings {
    Embeddings::synthetic_unit(rows, dim, seed).expect("rows * dim values")
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
