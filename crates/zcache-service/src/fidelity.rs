//! How faithful a stored matrix is to the original: cosine similarity per row and
//! nearest-neighbour recall.

use serde::{Deserialize, Serialize};

use crate::embeddings::EmbeddingsRef;
use crate::error::{Result, ServiceError};

/// Cosine similarity between each original row and its stored form, summarised.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fidelity {
    /// The worst row's cosine similarity (1.0 for an exact copy).
    pub min_cosine: f64,
    /// The mean over rows (1.0 for an exact copy).
    pub mean_cosine: f64,
    /// Whether every value is bit-identical to the original.
    pub exact: bool,
}

impl Fidelity {
    /// The fidelity of a bit-identical copy.
    pub const EXACT: Self = Self {
        min_cosine: 1.0,
        mean_cosine: 1.0,
        exact: true,
    };
}

/// Cosine similarity in f64; two zero vectors are identical (1.0), one zero vector is 0.0.
#[must_use]
pub fn cosine_similarity(a: &[f32], b: &[f32]) -> f64 {
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    match (na > 0.0, nb > 0.0) {
        (false, false) => 1.0,
        (true, true) => dot / (na.sqrt() * nb.sqrt()),
        _ => 0.0,
    }
}

fn same_shape(a: EmbeddingsRef<'_>, b: EmbeddingsRef<'_>) -> Result<()> {
    if a.shape() == b.shape() {
        Ok(())
    } else {
        Err(ServiceError::Shape(format!(
            "cannot compare {:?} with {:?}",
            a.shape(),
            b.shape()
        )))
    }
}

/// Min and mean cosine similarity of each row of `stored` to the same row of `original`.
///
/// # Errors
/// [`ServiceError::Shape`] when the shapes differ.
pub fn fidelity(original: EmbeddingsRef<'_>, stored: EmbeddingsRef<'_>) -> Result<Fidelity> {
    same_shape(original, stored)?;
    let exact = original
        .as_slice()
        .iter()
        .zip(stored.as_slice())
        .all(|(a, b)| a.to_bits() == b.to_bits());
    if exact {
        return Ok(Fidelity::EXACT);
    }
    let (mut min, mut sum) = (f64::INFINITY, 0.0);
    for (a, b) in original.iter_rows().zip(stored.iter_rows()) {
        let c = cosine_similarity(a, b);
        // NaN (from NaN inputs) must not hide behind `min`: treat it as total loss.
        let c = if c.is_nan() { 0.0 } else { c };
        min = min.min(c);
        sum += c;
    }
    let rows = original.rows();
    Ok(if rows == 0 {
        Fidelity::EXACT
    } else {
        Fidelity {
            min_cosine: min,
            mean_cosine: sum / rows as f64,
            exact: false,
        }
    })
}

/// The `k` rows of `matrix` most similar (by cosine) to row `query`, excluding `query` itself,
/// most similar first.
fn top_k(matrix: EmbeddingsRef<'_>, norms: &[f64], query: usize, k: usize) -> Vec<usize> {
    let Some(q) = matrix.row(query) else {
        return Vec::new();
    };
    let mut scored: Vec<(f64, usize)> = matrix
        .iter_rows()
        .enumerate()
        .filter(|&(i, _)| i != query)
        .map(|(i, row)| {
            let dot: f64 = q
                .iter()
                .zip(row)
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum();
            let n = norms.get(i).copied().unwrap_or(0.0);
            (if n > 0.0 { dot / n } else { f64::NEG_INFINITY }, i)
        })
        .collect();
    let k = k.min(scored.len());
    if k == 0 {
        return Vec::new();
    }
    scored.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
    scored.truncate(k);
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().map(|(_, i)| i).collect()
}

/// Nearest-neighbour recall@k of `approx` against `original`: for each query row, the share of
/// its true `k` nearest neighbours (cosine, in `original`, itself excluded) that are also among
/// its `k` nearest neighbours computed entirely in `approx`. Averaged over `queries`.
///
/// Brute force (O(queries x rows x dim)); meant for tests and benchmarks, use a sample of queries.
///
/// # Errors
/// [`ServiceError::Shape`] when the shapes differ, [`ServiceError::InvalidInput`] when `k` is 0,
/// there are fewer than `k + 1` rows, or a query index is out of range.
pub fn recall_at_k(
    original: EmbeddingsRef<'_>,
    approx: EmbeddingsRef<'_>,
    k: usize,
    queries: &[usize],
) -> Result<f64> {
    same_shape(original, approx)?;
    if k == 0 || original.rows() <= k {
        return Err(ServiceError::InvalidInput(format!(
            "recall@{k} needs k >= 1 and more than k rows ({})",
            original.rows()
        )));
    }
    if let Some(q) = queries.iter().find(|&&q| q >= original.rows()) {
        return Err(ServiceError::InvalidInput(format!(
            "query row {q} out of range ({} rows)",
            original.rows()
        )));
    }
    if queries.is_empty() {
        return Err(ServiceError::InvalidInput("no query rows".into()));
    }
    let norms = |m: EmbeddingsRef<'_>| -> Vec<f64> {
        m.iter_rows()
            .map(|r| {
                r.iter()
                    .map(|&v| f64::from(v) * f64::from(v))
                    .sum::<f64>()
                    .sqrt()
            })
            .collect()
    };
    let (n_orig, n_approx) = (norms(original), norms(approx));
    let mut found = 0usize;
    for &q in queries {
        let truth = top_k(original, &n_orig, q, k);
        let got = top_k(approx, &n_approx, q, k);
        found += got.iter().filter(|i| truth.contains(i)).count();
    }
    Ok(found as f64 / (queries.len() * k) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embeddings::Embeddings;

    #[test]
    fn cosine_edge_cases() {
        assert!((cosine_similarity(&[1.0, 0.0], &[2.0, 0.0]) - 1.0).abs() < 1e-12);
        assert!(cosine_similarity(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-12);
        assert_eq!(cosine_similarity(&[0.0, 0.0], &[0.0, 0.0]), 1.0);
        assert_eq!(cosine_similarity(&[1.0, 0.0], &[0.0, 0.0]), 0.0);
    }

    #[test]
    fn fidelity_sees_the_worst_row() -> Result<()> {
        let a = Embeddings::new(vec![1.0, 0.0, 0.0, 1.0], 2, 2)?;
        assert_eq!(fidelity(a.view(), a.view())?, Fidelity::EXACT);
        let b = Embeddings::new(vec![1.0, 0.0, 1.0, 1.0], 2, 2)?;
        let f = fidelity(a.view(), b.view())?;
        assert!(!f.exact);
        assert!((f.min_cosine - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-9);
        assert!((f.mean_cosine - (1.0 + std::f64::consts::FRAC_1_SQRT_2) / 2.0).abs() < 1e-9);
        let c = Embeddings::new(vec![1.0; 6], 3, 2)?;
        assert!(fidelity(a.view(), c.view()).is_err());
        Ok(())
    }

    #[test]
    fn recall_is_one_for_a_copy_and_drops_for_a_shuffle() -> Result<()> {
        let a = Embeddings::synthetic_unit(40, 8, 1)?;
        let queries: Vec<usize> = (0..40).collect();
        assert_eq!(recall_at_k(a.view(), a.view(), 5, &queries)?, 1.0);
        let mut rows: Vec<Vec<f32>> = a.iter_rows().map(<[f32]>::to_vec).collect();
        rows.rotate_left(1);
        let b = Embeddings::from_rows(&rows)?;
        assert!(recall_at_k(a.view(), b.view(), 5, &queries)? < 0.5);
        assert!(recall_at_k(a.view(), a.view(), 0, &queries).is_err());
        assert!(recall_at_k(a.view(), a.view(), 5, &[40]).is_err());
        assert!(recall_at_k(a.view(), a.view(), 40, &queries).is_err());
        Ok(())
    }
}
