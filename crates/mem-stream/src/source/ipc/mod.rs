//! Arrow IPC: the file format (Feather v2, with LZ4/ZSTD buffers, either byte order) and the
//! stream format. Files are framed here rather than by arrow-rs' readers, so that every length a
//! file states is checked against the file and the memory budget before it is allocated, and
//! every message against its body before arrow-rs decodes it (see [`message`]).

mod bigendian;
mod file;
mod lz4;
mod message;
mod stream;

use arrow::datatypes::SchemaRef;

pub(crate) use stream::IpcStreamSource;

use super::batches::Batches;
use super::{BatchSource, OpenRequest, projection_indices};
use crate::error::Result;

fn projection(req: &OpenRequest<'_>, schema: &SchemaRef) -> Result<Option<Vec<usize>>> {
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    req.projection
        .map(|p| projection_indices(req.path, &names, p))
        .transpose()
}

/// Opens an IPC file; one in the other byte order goes through the byte-swapping reader.
pub(crate) fn open_file(req: &OpenRequest<'_>) -> Result<Box<dyn BatchSource>> {
    let ipc = file::IpcFile::open(req.path, req.budget)?;
    let info = ipc.footer()?;
    let proj = projection(req, &info.schema)?;
    let target = req.target_rows.clone();
    if info.native {
        let source = file::IpcFileSource::new(ipc, info, proj, req.budget)?;
        Ok(Box::new(Batches::new(source, target)))
    } else {
        let source = bigendian::BigEndianIpcSource::new(ipc, info, proj, req.budget)?;
        Ok(Box::new(Batches::new(source, target)))
    }
}
