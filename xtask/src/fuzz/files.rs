//! File-system helpers: copying a case's directory faithfully (symlinks, FIFOs and huge sparse
//! files included), and the hostile entries planted in a cache directory.

use std::ffi::CString;
use std::io::Write as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::FileTypeExt as _;
use std::path::Path;

use anyhow::{Context, bail};

use super::rng::Rng;

/// Files larger than this are copied as their head plus a hole: the harness only makes such
/// files by extending a small cache entry with zeros (`set_len`), so the copy has the same bytes.
const COPY_HEAD: u64 = 1 << 20;

/// Copies the directory `from` to `to`, recursively, recreating symlinks and FIFOs as such.
pub fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("listing {}", from.display()))? {
        let entry = entry?;
        let (src, dest) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            let target = std::fs::read_link(&src)?;
            std::os::unix::fs::symlink(&target, &dest)
                .with_context(|| format!("linking {}", dest.display()))?;
        } else if kind.is_dir() {
            copy_dir(&src, &dest)?;
        } else if kind.is_fifo() {
            mkfifo(&dest)?;
        } else if kind.is_file() {
            copy_file(&src, &dest)?;
        }
    }
    Ok(())
}

/// Copies a regular file; past `COPY_HEAD` bytes the rest becomes a hole of the same length.
fn copy_file(src: &Path, dest: &Path) -> anyhow::Result<()> {
    let len = std::fs::metadata(src)?.len();
    if len <= COPY_HEAD {
        std::fs::copy(src, dest).with_context(|| format!("copying {}", src.display()))?;
        return Ok(());
    }
    let mut out = std::fs::File::create(dest)?;
    let mut head = std::io::Read::take(std::fs::File::open(src)?, COPY_HEAD);
    std::io::copy(&mut head, &mut out)?;
    out.flush()?;
    out.set_len(len)?;
    Ok(())
}

/// Makes a FIFO at `path`.
fn mkfifo(path: &Path) -> anyhow::Result<()> {
    let c = CString::new(path.as_os_str().as_bytes()).context("a path with a NUL byte")?;
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o644) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("making the FIFO {}", path.display()));
    }
    Ok(())
}

/// Plants one hostile entry in the cache directory `dir` (whose entry files are `files`): a
/// symlink to `/dev/zero` or to itself, a FIFO, a directory, an empty file, or a valid entry
/// grown into a huge sparse file. Returns its description.
pub fn hostile_entry(
    dir: &Path,
    files: &[std::path::PathBuf],
    rng: &mut Rng,
) -> anyhow::Result<String> {
    let name = format!("{:016x}{:016x}.zc", rng.next_u64(), rng.next_u64());
    let path = dir.join(&name);
    Ok(match rng.below(6) {
        0 => {
            std::os::unix::fs::symlink("/dev/zero", &path)?;
            format!("planted {name}: a symlink to /dev/zero")
        }
        1 => {
            std::os::unix::fs::symlink(&name, &path)?;
            format!("planted {name}: a symlink to itself")
        }
        2 => {
            mkfifo(&path)?;
            format!("planted {name}: a FIFO nobody writes to")
        }
        3 => {
            std::fs::create_dir(&path)?;
            format!("planted {name}: a directory")
        }
        4 => {
            std::fs::write(&path, b"")?;
            format!("planted {name}: an empty file")
        }
        _ => {
            let Some(file) = rng.pick(files) else {
                bail!("no entry to grow");
            };
            let size = *rng
                .pick(&[1u64 << 30, (4 << 30) + 80, 16 << 30])
                .unwrap_or(&(1 << 30));
            let target = dir.join(file);
            std::fs::OpenOptions::new()
                .write(true)
                .open(&target)
                .and_then(|f| f.set_len(size))
                .with_context(|| format!("growing {}", target.display()))?;
            format!("{}: grown to a sparse {size}-byte file", file.display())
        }
    })
}
