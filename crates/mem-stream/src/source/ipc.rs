//! Arrow IPC: the file format (Feather v2, with LZ4/ZSTD buffers) and the stream format.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::{FileReader, StreamReader};
use arrow::record_batch::RecordBatch;

use super::{BatchSource, OpenRequest, projection_indices};
use crate::error::{Result, StreamError};

fn projection(req: &OpenRequest<'_>, schema: &SchemaRef) -> Result<Option<Vec<usize>>> {
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    req.projection
        .map(|p| projection_indices(req.path, &names, p))
        .transpose()
}

/// Opens an IPC file; a big-endian one goes through the byte-swapping reader.
pub(crate) fn open_file(req: &OpenRequest<'_>) -> Result<Box<dyn BatchSource>> {
    match IpcFileSource::open(req) {
        Ok(s) => Ok(Box::new(s)),
        Err(StreamError::Arrow {
            error: arrow::error::ArrowError::IpcError(m),
            ..
        }) if m.contains("endianness") => {
            let path = req.path;
            let file = File::open(path).map_err(|e| StreamError::io(path, "cannot open", e))?;
            let names: Vec<String> = {
                // The schema is read by the big-endian reader; names for projection come from it.
                drop(file);
                let probe = super::bigendian::BigEndianIpcSource::open(path, None)?;
                probe
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect()
            };
            let proj = req
                .projection
                .map(|p| projection_indices(path, &names, p))
                .transpose()?;
            Ok(Box::new(super::bigendian::BigEndianIpcSource::open(
                path, proj,
            )?))
        }
        Err(e) => Err(e),
    }
}

/// An Arrow IPC file (random access; batches as written).
pub(crate) struct IpcFileSource {
    path: PathBuf,
    reader: FileReader<BufReader<File>>,
    schema: SchemaRef,
    batches_read: usize,
    total: u64,
    done: bool,
}

impl IpcFileSource {
    pub(crate) fn open(req: &OpenRequest<'_>) -> Result<Self> {
        let path = req.path;
        let open = || -> Result<BufReader<File>> {
            File::open(path)
                .map(BufReader::new)
                .map_err(|e| StreamError::io(path, "cannot open", e))
        };
        let file = open()?;
        let total = file
            .get_ref()
            .metadata()
            .map_err(|e| StreamError::io(path, "cannot read", e))?
            .len();
        let probe = FileReader::try_new(file, None)
            .map_err(|e| StreamError::arrow(path, "reading Arrow IPC file", e))?;
        let full = probe.schema();
        let proj = projection(req, &full)?;
        let reader = match proj {
            None => probe,
            Some(p) => {
                drop(probe);
                FileReader::try_new(open()?, Some(p))
                    .map_err(|e| StreamError::arrow(path, "reading Arrow IPC file", e))?
            }
        };
        let schema = reader.schema();
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            schema,
            batches_read: 0,
            total,
            done: false,
        })
    }
}

impl BatchSource for IpcFileSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        if self.done {
            return None;
        }
        match self.reader.next() {
            None => {
                self.done = true;
                None
            }
            Some(Ok(b)) => {
                self.batches_read += 1;
                Some(Ok(b))
            }
            Some(Err(e)) => {
                self.done = true;
                Some(Err(StreamError::arrow(
                    &self.path,
                    "decoding Arrow IPC batch",
                    e,
                )))
            }
        }
    }

    fn bytes_read(&self) -> u64 {
        let n = self.reader.num_batches();
        if self.done || n == 0 {
            return if self.done { self.total } else { 0 };
        }
        (self.batches_read as f64 / n as f64 * self.total as f64) as u64
    }

    fn total_bytes(&self) -> u64 {
        self.total
    }
}

struct Counting {
    inner: File,
    count: Arc<AtomicU64>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// An Arrow IPC stream (read front to back).
pub(crate) struct IpcStreamSource {
    path: PathBuf,
    reader: StreamReader<BufReader<Counting>>,
    schema: SchemaRef,
    count: Arc<AtomicU64>,
    total: u64,
    done: bool,
}

impl IpcStreamSource {
    pub(crate) fn open(req: &OpenRequest<'_>) -> Result<Self> {
        let path = req.path;
        let open = |count: &Arc<AtomicU64>| -> Result<(BufReader<Counting>, u64)> {
            let f = File::open(path).map_err(|e| StreamError::io(path, "cannot open", e))?;
            let total = f
                .metadata()
                .map_err(|e| StreamError::io(path, "cannot read", e))?
                .len();
            Ok((
                BufReader::new(Counting {
                    inner: f,
                    count: count.clone(),
                }),
                total,
            ))
        };
        let count = Arc::new(AtomicU64::new(0));
        let (r, total) = open(&count)?;
        let probe = StreamReader::try_new(r, None)
            .map_err(|e| StreamError::arrow(path, "reading Arrow IPC stream", e))?;
        let proj = projection(req, &probe.schema())?;
        let reader = match proj {
            None => probe,
            Some(p) => {
                drop(probe);
                count.store(0, Ordering::Relaxed);
                let (r, _) = open(&count)?;
                StreamReader::try_new(r, Some(p))
                    .map_err(|e| StreamError::arrow(path, "reading Arrow IPC stream", e))?
            }
        };
        let schema = reader.schema();
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            schema,
            count,
            total,
            done: false,
        })
    }
}

impl BatchSource for IpcStreamSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        if self.done {
            return None;
        }
        match self.reader.next() {
            None => {
                self.done = true;
                None
            }
            Some(Ok(b)) => Some(Ok(b)),
            Some(Err(e)) => {
                self.done = true;
                Some(Err(StreamError::arrow(
                    &self.path,
                    "decoding Arrow IPC stream",
                    e,
                )))
            }
        }
    }

    fn bytes_read(&self) -> u64 {
        if self.done {
            self.total
        } else {
            self.count.load(Ordering::Relaxed).min(self.total)
        }
    }

    fn total_bytes(&self) -> u64 {
        self.total
    }
}
