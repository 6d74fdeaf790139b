//! Conversions between [`Embeddings`] and `ndarray` 2-D arrays (feature `ndarray`).

use ndarray::{Array2, ArrayView2};

use crate::embeddings::{Embeddings, EmbeddingsRef};
use crate::error::{Result, ServiceError};

fn shape_err(e: ndarray::ShapeError) -> ServiceError {
    ServiceError::Shape(e.to_string())
}

impl Embeddings {
    /// Moves the values into an `Array2<f32>` of shape `(rows, dim)` without copying.
    ///
    /// # Errors
    /// [`ServiceError::Shape`] only if ndarray refuses the shape (it cannot, for a valid matrix).
    pub fn into_array2(self) -> Result<Array2<f32>> {
        let (rows, dim) = self.shape();
        Array2::from_shape_vec((rows, dim), self.into_vec()).map_err(shape_err)
    }

    /// Borrows the values as an `ArrayView2<f32>`.
    ///
    /// # Errors
    /// As [`into_array2`](Self::into_array2).
    pub fn as_array_view(&self) -> Result<ArrayView2<'_, f32>> {
        self.view().as_array_view()
    }

    /// Takes an array of any memory layout; row-major arrays are moved without copying.
    ///
    /// # Errors
    /// [`ServiceError::Shape`] when the array has zero columns.
    pub fn from_array2(a: Array2<f32>) -> Result<Self> {
        let (rows, dim) = a.dim();
        if a.is_standard_layout() {
            let (data, offset) = a.into_raw_vec_and_offset();
            if offset.unwrap_or(0) == 0 && data.len() == rows.saturating_mul(dim) {
                return Self::new(data, rows, dim);
            }
            return Self::new(
                data.into_iter()
                    .skip(offset.unwrap_or(0))
                    .take(rows * dim)
                    .collect(),
                rows,
                dim,
            );
        }
        Self::new(a.iter().copied().collect(), rows, dim)
    }
}

impl<'a> EmbeddingsRef<'a> {
    /// Borrows a row-major (C order, contiguous) view.
    ///
    /// # Errors
    /// [`ServiceError::Shape`] when the view is not contiguous row-major (copy it with
    /// `.as_standard_layout()` first) or has zero columns.
    pub fn from_array_view(v: ArrayView2<'a, f32>) -> Result<Self> {
        let (rows, dim) = v.dim();
        let data = v.to_slice().ok_or_else(|| {
            ServiceError::Shape(
                "the array view is not contiguous row-major; use .as_standard_layout()".into(),
            )
        })?;
        Self::new(data, rows, dim)
    }

    /// The same values as an `ArrayView2<f32>`.
    ///
    /// # Errors
    /// [`ServiceError::Shape`] only if ndarray refuses the shape (it cannot, for a valid matrix).
    pub fn as_array_view(&self) -> Result<ArrayView2<'a, f32>> {
        ArrayView2::from_shape((self.rows(), self.dim()), self.as_slice()).map_err(shape_err)
    }
}

impl TryFrom<Array2<f32>> for Embeddings {
    type Error = ServiceError;

    fn try_from(a: Array2<f32>) -> Result<Self> {
        Self::from_array2(a)
    }
}

impl TryFrom<Embeddings> for Array2<f32> {
    type Error = ServiceError;

    fn try_from(e: Embeddings) -> Result<Self> {
        e.into_array2()
    }
}

impl<'a> TryFrom<ArrayView2<'a, f32>> for EmbeddingsRef<'a> {
    type Error = ServiceError;

    fn try_from(v: ArrayView2<'a, f32>) -> Result<Self> {
        Self::from_array_view(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_both_ways() -> Result<()> {
        let e = Embeddings::new((0..6).map(|i| i as f32).collect(), 2, 3)?;
        let a = e.clone().into_array2()?;
        assert_eq!(a[[1, 2]], 5.0);
        assert_eq!(Embeddings::try_from(a.clone())?, e);
        assert_eq!(e.as_array_view()?, a.view());
        // A transposed (column-major) array is copied in logical order.
        let t = a.clone().reversed_axes();
        let from_t = Embeddings::from_array2(t.clone())?;
        assert_eq!(from_t.shape(), (3, 2));
        assert_eq!(from_t.row(0), Some(&[0.0, 3.0][..]));
        assert!(EmbeddingsRef::from_array_view(t.view()).is_err());
        assert_eq!(EmbeddingsRef::try_from(a.view())?.to_owned(), e);
        // A sliced array (offset into its buffer) keeps only its own rows.
        let sliced = a.slice_move(ndarray::s![1.., ..]);
        assert_eq!(
            Embeddings::from_array2(sliced)?.as_slice(),
            &[3.0, 4.0, 5.0]
        );
        Ok(())
    }
}
