//! Opening the files a user names as input (`.npy` matrices, texts).
//!
//! Only regular files are read: a FIFO may never deliver a byte (opening one blocks until a
//! writer appears) and a device such as `/dev/zero` never ends, so neither can be read in
//! bounded time and memory. Refusing them up front, with the file named, beats hanging.

use std::fs::{self, File, FileType};
use std::path::Path;

use crate::error::{Result, ServiceError};

fn not_a_file(path: &Path, t: FileType) -> ServiceError {
    ServiceError::NotAFile {
        path: path.to_owned(),
        kind: mem_monitor::file_kind(t),
    }
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    // Never blocks on a FIFO swapped in after the type check; no effect on a regular file.
    File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

/// Opens `path` (a symbolic link is followed) if it is a regular file; returns it with its
/// length. The type is checked before opening, so a device is never opened, and again on the
/// open descriptor.
///
/// # Errors
/// [`ServiceError::Io`] when it cannot be opened; [`ServiceError::NotAFile`] for a FIFO,
/// device, socket or directory.
pub(crate) fn open_regular(path: &Path) -> Result<(File, u64)> {
    let meta = fs::metadata(path).map_err(|e| ServiceError::io(path, e))?;
    if !meta.is_file() {
        return Err(not_a_file(path, meta.file_type()));
    }
    let file = open_nonblocking(path).map_err(|e| ServiceError::io(path, e))?;
    let meta = file.metadata().map_err(|e| ServiceError::io(path, e))?;
    if !meta.is_file() {
        return Err(not_a_file(path, meta.file_type()));
    }
    Ok((file, meta.len()))
}
