//! What the CLI hands back to the user: output files written safely, and errors as one line.
//!
//! An output file is written to a temporary file in the target's directory, synced, and renamed
//! over the target, so a reader never sees half a file and a failure leaves the old one. The
//! rename replaces only a regular file or nothing: a device node, FIFO, socket, directory or
//! symbolic link at the target is refused (renaming over `/dev/null` would delete the device;
//! over a symlink, replace the link instead of writing where it points), and so is a target
//! that is one of the command's inputs (same device and inode, so hard links count too).

use std::fs::{self, File, Metadata};
use std::hash::{BuildHasher, RandomState};
use std::io::{self, BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};

#[cfg(unix)]
fn same_file(a: &Metadata, b: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_a: &Metadata, _b: &Metadata) -> bool {
    false
}

/// The target's metadata (not following a symlink), `None` when nothing is there.
fn target_meta(path: &Path) -> anyhow::Result<Option<Metadata>> {
    match fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow!("{}: {e}", path.display())),
    }
}

/// Checks that `path` may be written as an output: nothing there, or a regular file.
///
/// # Errors
/// `P: is a FIFO|character device|...|directory|symbolic link; refusing to replace it`.
pub(crate) fn check_output_target(path: &Path) -> anyhow::Result<()> {
    check_target(path, &[])
}

/// [`check_output_target`], and `path` must not be the same file as any of `inputs`.
fn check_target(path: &Path, inputs: &[&Path]) -> anyhow::Result<()> {
    let Some(meta) = target_meta(path)? else {
        return Ok(());
    };
    if !meta.file_type().is_file() {
        bail!(
            "{}: is {}; refusing to replace it (the output must be a regular file or a new path)",
            path.display(),
            mem_monitor::file_kind(meta.file_type())
        );
    }
    for input in inputs {
        if fs::metadata(input).is_ok_and(|m| same_file(&m, &meta)) {
            bail!(
                "{}: is the same file as the input {}; refusing to overwrite an input",
                path.display(),
                input.display()
            );
        }
    }
    Ok(())
}

/// An output file being written: a temporary file beside the target, renamed over it by
/// [`commit`](Self::commit) and removed if dropped uncommitted. Writes are buffered.
#[derive(Debug)]
pub(crate) struct OutputFile {
    target: PathBuf,
    tmp: PathBuf,
    inputs: Vec<PathBuf>,
    out: Option<BufWriter<File>>,
}

impl OutputFile {
    /// Checks `target` (see [`check_output_target`]; it must not be one of `inputs` either)
    /// and creates the temporary file `.<name>.tmp-<pid>-<random>` in its directory (with the
    /// permissions of the file it will replace, if any).
    ///
    /// # Errors
    /// The target's checks; the temporary file cannot be created.
    pub(crate) fn create(target: &Path, inputs: &[&Path]) -> anyhow::Result<Self> {
        check_target(target, inputs)?;
        let name = target
            .file_name()
            .ok_or_else(|| anyhow!("{}: not a file name", target.display()))?;
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let random = RandomState::new().hash_one(std::time::SystemTime::now());
        let tmp = dir.join(format!(
            ".{}.tmp-{}-{random:016x}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| format!("{}: cannot create {}", target.display(), tmp.display()))?;
        let out = Self {
            target: target.to_owned(),
            tmp,
            inputs: inputs.iter().map(|p| p.to_path_buf()).collect(),
            out: Some(BufWriter::with_capacity(256 * 1024, file)),
        };
        if let Some(meta) = target_meta(target)? {
            // Keep the mode of the file being replaced (best effort).
            let _ = fs::set_permissions(&out.tmp, meta.permissions());
        }
        Ok(out)
    }

    /// Flushes and syncs the data, checks the target again (it may have changed meanwhile),
    /// renames the temporary file over it and syncs the directory.
    ///
    /// # Errors
    /// Writing, syncing or renaming failed (the target is then untouched), or the target is no
    /// longer acceptable.
    pub(crate) fn commit(mut self) -> anyhow::Result<()> {
        let result = self.finish();
        if result.is_err() {
            let _ = fs::remove_file(&self.tmp);
        }
        result
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        let target = &self.target;
        let fail = |e: io::Error| anyhow!("{}: {e}", target.display());
        let file = self
            .out
            .take()
            .ok_or_else(|| anyhow!("{}: already committed", target.display()))?
            .into_inner()
            .map_err(|e| fail(e.into_error()))?;
        file.sync_all().map_err(fail)?;
        drop(file);
        let inputs: Vec<&Path> = self.inputs.iter().map(PathBuf::as_path).collect();
        check_target(target, &inputs)?;
        fs::rename(&self.tmp, target).map_err(fail)?;
        if let Some(dir) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            // Makes the rename durable; not all systems can sync a directory.
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }

    fn writer(&mut self) -> io::Result<&mut BufWriter<File>> {
        self.out
            .as_mut()
            .ok_or_else(|| io::Error::other("output file already committed"))
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer()?.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.writer()?.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer()?.flush()
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            // Not committed: the temporary file is garbage.
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `target` atomically with `write` (see [`OutputFile`]).
///
/// # Errors
/// As [`OutputFile::create`] and [`OutputFile::commit`]; what `write` returns, with the target
/// named.
pub(crate) fn write_atomically(
    target: &Path,
    inputs: &[&Path],
    write: impl FnOnce(&mut OutputFile) -> io::Result<()>,
) -> anyhow::Result<()> {
    let mut out = OutputFile::create(target, inputs)?;
    write(&mut out).map_err(|e| anyhow!("{}: {e}", target.display()))?;
    out.commit()
}

/// Flattens an error chain into one line, dropping any cause whose text the line already
/// holds (library errors often print their source and also return it), and any line break.
pub(crate) fn one_line(e: &anyhow::Error) -> anyhow::Error {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    anyhow!(line.replace(['\n', '\r'], " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_regular_files_atomically() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let out = dir.path().join("out.txt");
        write_atomically(&out, &[], |w| w.write_all(b"first"))?;
        write_atomically(&out, &[], |w| w.write_all(b"second"))?;
        assert_eq!(fs::read(&out)?, b"second");
        // A failed write leaves the old file and no temporary file.
        let err = write_atomically(&out, &[], |_| Err(io::Error::other("boom"))).unwrap_err();
        assert_eq!(err.to_string(), format!("{}: boom", out.display()));
        assert_eq!(fs::read(&out)?, b"second");
        assert_eq!(fs::read_dir(dir.path())?.count(), 1);
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn refuses_devices_fifos_symlinks_directories_and_inputs() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes())?;
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a node.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/dev/null", &link)?;
        let input = dir.path().join("in");
        fs::write(&input, b"input")?;
        let hard = dir.path().join("hard");
        fs::hard_link(&input, &hard)?;
        for (target, want) in [
            (Path::new("/dev/null"), "is a character device; refusing"),
            (fifo.as_path(), "is a FIFO; refusing"),
            (link.as_path(), "is a symbolic link; refusing"),
            (dir.path(), "is a directory; refusing"),
        ] {
            let err = write_atomically(target, &[], |w| w.write_all(b"x")).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.starts_with(&format!("{}: {want}", target.display())),
                "{msg}"
            );
        }
        for target in [&input, &hard] {
            let err = write_atomically(target, &[&input], |w| w.write_all(b"x")).unwrap_err();
            assert!(err.to_string().contains("same file as the input"), "{err}");
        }
        assert_eq!(fs::read(&input)?, b"input");
        assert!(fs::symlink_metadata(&link)?.file_type().is_symlink());
        assert!(Path::new("/dev/null").exists());
        // Nothing left behind by the refusals.
        assert_eq!(fs::read_dir(dir.path())?.count(), 4);
        Ok(())
    }

    #[test]
    fn error_chains_become_one_line_without_repeats() {
        let io = io::Error::new(ErrorKind::AlreadyExists, "File exists (os error 17)");
        let e = anyhow::Error::new(io)
            .context("I/O error on /x: File exists (os error 17)")
            .context("opening the cache in /x");
        assert_eq!(
            one_line(&e).to_string(),
            "opening the cache in /x: I/O error on /x: File exists (os error 17)"
        );
    }
}
