//! The crate's error type.

use arrow::datatypes::DataType;
use arrow::error::ArrowError;

/// Why an optimisation, a cache build or an array conversion failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OptimizeError {
    /// An Arrow kernel (cast, aggregate, batch construction) failed.
    #[error("{context}: {source}")]
    Arrow {
        /// What was being done, naming the column where there is one.
        context: String,
        /// The Arrow error.
        #[source]
        source: ArrowError,
    },
    /// A chunk given to a [`StreamOptimizer`](crate::StreamOptimizer) (or a batch given to
    /// `conform`) does not have the stream's input schema.
    #[error("chunk {chunk_index}: schema does not match the stream: {detail}")]
    SchemaMismatch {
        /// Index of the offending chunk (0-based); for `conform`, the number of chunks pushed.
        chunk_index: usize,
        /// Which column differs and how.
        detail: String,
    },
    /// A value does not fit the requested target type without changing.
    #[error(
        "value at index {index} ({value}) does not fit {target:?} exactly; ask for a lossy conversion or a wider type"
    )]
    DoesNotFit {
        /// Position of the first value that does not fit.
        index: usize,
        /// The value, formatted.
        value: String,
        /// The requested type.
        target: DataType,
    },
    /// The requested conversion is not supported for this input type.
    #[error("cannot convert {from:?} to {to:?}: {reason}")]
    Unsupported {
        /// The input type.
        from: DataType,
        /// The requested type.
        to: DataType,
        /// Why not.
        reason: &'static str,
    },
    /// A column or row index is past the end of a compact batch or table.
    #[error("{what} {index} is out of range ({len} in all)")]
    OutOfRange {
        /// What was indexed: `"column"` or `"row"`.
        what: &'static str,
        /// The index asked for.
        index: usize,
        /// How many there are.
        len: usize,
    },
    /// An option or builder setting is out of range.
    #[error("invalid setting: {0}")]
    InvalidConfig(String),
}

impl OptimizeError {
    pub(crate) fn arrow(context: impl Into<String>, source: ArrowError) -> Self {
        Self::Arrow {
            context: context.into(),
            source,
        }
    }
}
