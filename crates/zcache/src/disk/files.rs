//! Opening and removing names in the cache directory without trusting what they are.
//!
//! Only regular files are entries. A FIFO, device, directory or symbolic link that happens to
//! carry an entry's name is "foreign": never opened as an entry (opening a FIFO blocks until a
//! writer appears, a device may never end, a symlink may point out of the directory), never
//! removed, only reported.

use std::fs::{self, File};
use std::io::{self, ErrorKind};
use std::path::Path;

/// What a name in the directory turned out to be.
#[derive(Debug)]
pub(crate) enum Opened {
    /// A regular file, opened for reading, with the metadata of the open descriptor.
    File(File, fs::Metadata),
    /// Nothing there (or it vanished between the check and the open).
    Missing,
    /// Something that is not a regular file (the words say what); left alone.
    Foreign(&'static str),
}

/// Opens `path` for reading only if it is a regular file, without following a symbolic link and
/// without blocking on a FIFO. The type is checked before opening (so a device is never opened)
/// and again on the open descriptor (so a file swapped in between is caught).
pub(crate) fn open_regular(path: &Path) -> io::Result<Opened> {
    let before = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Opened::Missing),
        Err(e) => return Err(e),
    };
    if !before.file_type().is_file() {
        return Ok(Opened::Foreign(mem_monitor::file_kind(before.file_type())));
    }
    let file = match open_no_follow(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Opened::Missing),
        // O_NOFOLLOW on a symlink swapped in after the check.
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Ok(Opened::Foreign("a symbolic link"));
        }
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if meta.file_type().is_file() {
        Ok(Opened::File(file, meta))
    } else {
        Ok(Opened::Foreign(mem_monitor::file_kind(meta.file_type())))
    }
}

#[cfg(unix)]
fn open_no_follow(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path)
}

#[cfg(not(unix))]
fn open_no_follow(path: &Path) -> io::Result<File> {
    File::open(path)
}

/// True when `path` is (still) a regular file, not following a symbolic link.
pub(crate) fn is_regular(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
}

/// Removes one file. Tests can make it fail (see [`fail_removals`]) to exercise the accounting of
/// failed removals where permissions cannot (a test running as root).
pub(crate) fn remove_file(path: &Path) -> io::Result<()> {
    #[cfg(test)]
    if FAIL_REMOVALS.with(std::cell::Cell::get) {
        return Err(io::Error::from(ErrorKind::PermissionDenied));
    }
    fs::remove_file(path)
}

#[cfg(test)]
thread_local! {
    static FAIL_REMOVALS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Makes every removal on this thread fail with "permission denied" while `on`.
#[cfg(test)]
pub(crate) fn fail_removals(on: bool) {
    FAIL_REMOVALS.with(|f| f.set(on));
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_open() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        assert!(matches!(open_regular(&file).unwrap(), Opened::File(..)));
        let fifo = dir.path().join("p");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a node.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(matches!(
            open_regular(&fifo).unwrap(),
            Opened::Foreign("a FIFO")
        ));
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(matches!(
            open_regular(&link).unwrap(),
            Opened::Foreign("a symbolic link")
        ));
        assert!(matches!(
            open_regular(dir.path()).unwrap(),
            Opened::Foreign("a directory")
        ));
        assert!(matches!(
            open_regular(Path::new("/dev/null")).unwrap(),
            Opened::Foreign("a character device")
        ));
        assert!(matches!(
            open_regular(&dir.path().join("none")).unwrap(),
            Opened::Missing
        ));
        // The descriptor check alone (as after a swap): a FIFO opens without blocking.
        let f = open_no_follow(&fifo).unwrap();
        assert!(!f.metadata().unwrap().file_type().is_file());
    }
}
