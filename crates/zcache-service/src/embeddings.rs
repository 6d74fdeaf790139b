//! [`Embeddings`] (owned) and [`EmbeddingsRef`] (borrowed): a row-major `rows x dim` f32 matrix.

use crate::error::{Result, ServiceError};

/// Checks a shape against a data length; `dim` must be at least 1 (rows may be 0).
fn check_shape(len: usize, rows: usize, dim: usize) -> Result<()> {
    if dim == 0 {
        return Err(ServiceError::Shape(format!(
            "dim must be at least 1 (rows {rows})"
        )));
    }
    match rows.checked_mul(dim) {
        Some(n) if n == len => Ok(()),
        Some(n) => Err(ServiceError::Shape(format!(
            "{rows} rows x {dim} dims = {n} values, but the data holds {len}"
        ))),
        None => Err(ServiceError::Shape(format!(
            "{rows} rows x {dim} dims overflows"
        ))),
    }
}

/// An owned matrix of embeddings: `rows` vectors of `dim` f32 values, contiguous and row-major.
///
/// ```
/// use zcache_service::Embeddings;
/// let e = Embeddings::new(vec![1.0, 0.0, 0.0, 1.0], 2, 2)?;
/// assert_eq!(e.row(1), Some(&[0.0, 1.0][..]));
/// let v: Vec<f32> = e.into_vec();
/// assert_eq!(v.len(), 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    rows: usize,
    dim: usize,
    data: Vec<f32>,
}

impl Embeddings {
    /// Wraps `data` (row-major, `rows * dim` values) without copying.
    ///
    /// # Errors
    /// [`ServiceError::Shape`] when `dim` is 0 or `rows * dim != data.len()`.
    pub fn new(data: Vec<f32>, rows: usize, dim: usize) -> Result<Self> {
        check_shape(data.len(), rows, dim)?;
        Ok(Self { rows, dim, data })
    }

    /// Copies rows of equal length into one contiguous matrix.
    ///
    /// # Errors
    /// [`ServiceError::Shape`] when the rows differ in length or are empty vectors, or when there
    /// are no rows at all (the dimension would be unknown).
    pub fn from_rows<R: AsRef<[f32]>>(rows: &[R]) -> Result<Self> {
        let Some(first) = rows.first() else {
            return Err(ServiceError::Shape(
                "no rows: the dimension is unknown".into(),
            ));
        };
        let dim = first.as_ref().len();
        let mut data = Vec::with_capacity(rows.len().saturating_mul(dim));
        for (i, row) in rows.iter().enumerate() {
            let row = row.as_ref();
            if row.len() != dim {
                return Err(ServiceError::Shape(format!(
                    "row {i} has {} values, row 0 has {dim}",
                    row.len()
                )));
            }
            data.extend_from_slice(row);
        }
        Self::new(data, rows.len(), dim)
    }

    /// A matrix of zeros.
    ///
    /// # Errors
    /// [`ServiceError::Shape`] when `dim` is 0 or `rows * dim` overflows.
    pub fn zeros(rows: usize, dim: usize) -> Result<Self> {
        let n = rows
            .checked_mul(dim)
            .ok_or_else(|| ServiceError::Shape(format!("{rows} x {dim} overflows")))?;
        Self::new(vec![0.0; n], rows, dim)
    }

    /// `rows` deterministic pseudo-random unit vectors of length `dim` (xorshift from `seed`;
    /// each seed gives other vectors): stand-in embeddings for tests, examples and benchmarks.
    ///
    /// ```
    /// let e = zcache_service::Embeddings::synthetic_unit(3, 8, 1)?;
    /// let norm: f32 = e.as_slice()[..8].iter().map(|v| v * v).sum();
    /// assert!((norm - 1.0).abs() < 1e-5);
    /// # Ok::<(), zcache_service::ServiceError>(())
    /// ```
    ///
    /// # Errors
    /// [`ServiceError::Shape`] when `dim` is 0 or `rows * dim` overflows.
    pub fn synthetic_unit(rows: usize, dim: usize, seed: u64) -> Result<Self> {
        let n = rows
            .checked_mul(dim)
            .ok_or_else(|| ServiceError::Shape(format!("{rows} x {dim} overflows")))?;
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        };
        let mut data = Vec::with_capacity(n);
        for _ in 0..rows {
            let start = data.len();
            data.extend((0..dim).map(|_| next()));
            let row = &mut data[start..];
            let norm = row
                .iter()
                .map(|v| v * v)
                .sum::<f32>()
                .sqrt()
                .max(f32::MIN_POSITIVE);
            row.iter_mut().for_each(|v| *v /= norm);
        }
        Self::new(data, rows, dim)
    }

    /// Number of vectors.
    #[must_use]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Length of each vector.
    #[must_use]
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// `(rows, dim)`.
    #[must_use]
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.dim)
    }

    /// All values, row-major.
    #[must_use]
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// All values, row-major, mutable (the shape cannot change).
    #[must_use]
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Gives back the row-major values.
    #[must_use]
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// Row `i`, or `None` past the end.
    #[must_use]
    pub fn row(&self, i: usize) -> Option<&[f32]> {
        self.view().row(i)
    }

    /// Iterates over the rows.
    pub fn iter_rows(&self) -> std::slice::ChunksExact<'_, f32> {
        self.data.chunks_exact(self.dim)
    }

    /// A borrowed view of the whole matrix.
    #[must_use]
    pub fn view(&self) -> EmbeddingsRef<'_> {
        EmbeddingsRef {
            rows: self.rows,
            dim: self.dim,
            data: &self.data,
        }
    }

    /// Size of the values in bytes (`rows * dim * 4`): the "raw" size compression ratios refer to.
    #[must_use]
    pub fn raw_bytes(&self) -> usize {
        self.view().raw_bytes()
    }
}

impl From<Embeddings> for Vec<f32> {
    fn from(e: Embeddings) -> Self {
        e.data
    }
}

impl AsRef<[f32]> for Embeddings {
    fn as_ref(&self) -> &[f32] {
        &self.data
    }
}

/// A borrowed `rows x dim` f32 matrix (row-major), e.g. over a model's output buffer.
///
/// ```
/// use zcache_service::EmbeddingsRef;
/// let buffer = [0.6f32, 0.8, 1.0, 0.0];
/// let view = EmbeddingsRef::new(&buffer, 2, 2)?;
/// let owned = view.to_owned();
/// assert_eq!(owned.as_slice(), &buffer);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmbeddingsRef<'a> {
    rows: usize,
    dim: usize,
    data: &'a [f32],
}

impl<'a> EmbeddingsRef<'a> {
    /// Borrows `data` as `rows x dim`.
    ///
    /// # Errors
    /// [`ServiceError::Shape`] when `dim` is 0 or `rows * dim != data.len()`.
    pub fn new(data: &'a [f32], rows: usize, dim: usize) -> Result<Self> {
        check_shape(data.len(), rows, dim)?;
        Ok(Self { rows, dim, data })
    }

    /// Borrows `data` as rows of `dim` values (`rows = data.len() / dim`).
    ///
    /// # Errors
    /// [`ServiceError::Shape`] when `dim` is 0 or does not divide `data.len()`.
    pub fn from_flat(data: &'a [f32], dim: usize) -> Result<Self> {
        let rows = data.len().checked_div(dim).unwrap_or(0);
        Self::new(data, rows, dim)
    }

    /// Number of vectors.
    #[must_use]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Length of each vector.
    #[must_use]
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// `(rows, dim)`.
    #[must_use]
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.dim)
    }

    /// All values, row-major.
    #[must_use]
    pub fn as_slice(&self) -> &'a [f32] {
        self.data
    }

    /// Row `i`, or `None` past the end.
    #[must_use]
    pub fn row(&self, i: usize) -> Option<&'a [f32]> {
        let start = i.checked_mul(self.dim)?;
        self.data.get(start..start.checked_add(self.dim)?)
    }

    /// Iterates over the rows.
    pub fn iter_rows(&self) -> std::slice::ChunksExact<'a, f32> {
        self.data.chunks_exact(self.dim)
    }

    /// Copies into an owned [`Embeddings`].
    #[must_use]
    pub fn to_owned(&self) -> Embeddings {
        Embeddings {
            rows: self.rows,
            dim: self.dim,
            data: self.data.to_vec(),
        }
    }

    /// Size of the values in bytes (`rows * dim * 4`).
    #[must_use]
    pub fn raw_bytes(&self) -> usize {
        std::mem::size_of_val(self.data)
    }
}

impl<'a> From<&'a Embeddings> for EmbeddingsRef<'a> {
    fn from(e: &'a Embeddings) -> Self {
        e.view()
    }
}

impl From<EmbeddingsRef<'_>> for Embeddings {
    fn from(v: EmbeddingsRef<'_>) -> Self {
        v.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_is_checked() {
        assert!(Embeddings::new(vec![0.0; 6], 2, 3).is_ok());
        assert!(Embeddings::new(vec![0.0; 6], 3, 3).is_err());
        assert!(Embeddings::new(vec![], 0, 0).is_err());
        assert!(Embeddings::new(vec![], 0, 4).is_ok());
        assert!(Embeddings::new(vec![], usize::MAX, 2).is_err());
        assert!(EmbeddingsRef::from_flat(&[1.0, 2.0, 3.0], 2).is_err());
        assert!(EmbeddingsRef::from_flat(&[1.0, 2.0, 3.0], 0).is_err());
        assert!(Embeddings::from_rows(&[vec![1.0], vec![1.0, 2.0]]).is_err());
        assert!(Embeddings::from_rows::<Vec<f32>>(&[]).is_err());
    }

    #[test]
    fn rows_and_views_agree() -> Result<()> {
        let e = Embeddings::from_rows(&[[1.0f32, 2.0], [3.0, 4.0], [5.0, 6.0]])?;
        assert_eq!(e.shape(), (3, 2));
        assert_eq!(e.row(2), Some(&[5.0, 6.0][..]));
        assert_eq!(e.row(3), None);
        assert_eq!(e.row(usize::MAX), None);
        assert_eq!(e.iter_rows().count(), 3);
        let v: EmbeddingsRef<'_> = (&e).into();
        assert_eq!(Embeddings::from(v), e);
        assert_eq!(e.raw_bytes(), 24);
        let zero = Embeddings::zeros(0, 384)?;
        assert_eq!(zero.iter_rows().count(), 0);
        Ok(())
    }
}
