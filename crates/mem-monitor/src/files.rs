//! Words for file types, shared by the crates that refuse inputs and cache entries that are not
//! regular files (FIFOs, devices, sockets, directories, symbolic links).

use std::fs::FileType;

/// What a file of type `t` is, for messages: "a FIFO", "a character device", "a block device",
/// "a socket", "a symbolic link", "a directory", "a regular file", or "not a regular file".
///
/// ```
/// let dir = std::env::temp_dir();
/// let t = std::fs::metadata(&dir)?.file_type();
/// assert_eq!(mem_monitor::file_kind(t), "a directory");
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use]
pub fn file_kind(t: FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}
