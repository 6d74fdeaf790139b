//! Streams from any reader (a pipe, stdin, a socket, bytes in memory), for the formats that read
//! front to back.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use super::StreamingLoader;
use crate::chunks::ChunkStream;
use crate::error::Result;
use crate::format::FileFormat;
use crate::source::{self, readahead::ReadAhead};

impl StreamingLoader {
    /// Streams `reader` in chunks of rows, as [`stream`](Self::stream) streams a file.
    ///
    /// Only formats that read front to back work from a reader: CSV/TSV (gzip-compressed or not,
    /// recognised by its magic bytes whatever `format` says) and the Arrow IPC stream format.
    /// `name` is what errors call the input (a CLI passes `<stdin>`). The input's size is
    /// unknown, so [`ChunkMetadata::source_bytes_total`](crate::ChunkMetadata::source_bytes_total)
    /// and `progress` are 0; the memory limit still bounds every length the input states.
    ///
    /// ```
    /// use mem_stream::{FileFormat, StreamingLoader};
    ///
    /// let text: &'static [u8] = b"id,name\n1,ann\n2,bob\n3,cy\n";
    /// let loader = StreamingLoader::builder().chunk_size(2).build()?;
    /// let stream = loader.stream_reader(text, FileFormat::CSV, "<stdin>")?;
    /// let rows: usize = stream.map(|c| c.map(|(b, _)| b.num_rows())).sum::<Result<_, _>>()?;
    /// assert_eq!(rows, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`StreamError::NeedsSeek`](crate::StreamError::NeedsSeek) for Parquet, Arrow IPC files
    /// and workbooks; otherwise as [`stream`](Self::stream) (reading, header, schema,
    /// projection).
    pub fn stream_reader(
        &self,
        reader: impl Read + Send + 'static,
        format: FileFormat,
        name: impl Into<PathBuf>,
    ) -> Result<ChunkStream> {
        let name = name.into();
        let target = Arc::new(AtomicUsize::new(self.chunk_size));
        let req = self.request(&name, format, &target, None);
        let mut src = source::open_reader(&req, Box::new(reader))?;
        if self.read_ahead && !matches!(format, FileFormat::Csv { .. }) {
            src = Box::new(ReadAhead::spawn(src, &name)?);
        }
        Ok(ChunkStream::new(&name, src, target, self.stream_config()))
    }
}
