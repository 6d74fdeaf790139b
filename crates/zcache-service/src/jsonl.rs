//! Texts as the Python side writes them: one JSON value per line, either a string or an object
//! with a string `"text"` field; line `i` belongs to row `i` of the embeddings.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::error::{Result, ServiceError};

/// Largest texts file [`read_texts_jsonl`] reads: 1 GiB.
pub const MAX_TEXTS_BYTES: u64 = 1 << 30;

/// Longest line [`read_texts_jsonl`] accepts: 64 MiB.
pub const MAX_TEXT_LINE_BYTES: usize = 64 << 20;

/// What a texts file may hold (see [`read_texts_jsonl_with`]); the texts are held in memory, so
/// these bound what reading them costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TextsLimits {
    /// Largest file accepted, in bytes ([`MAX_TEXTS_BYTES`] by default).
    pub max_bytes: u64,
    /// Longest line accepted, in bytes ([`MAX_TEXT_LINE_BYTES`] by default).
    pub max_line_bytes: usize,
    /// Most lines accepted (e.g. the rows of the matching matrix); `None` by default.
    pub max_lines: Option<usize>,
}

impl Default for TextsLimits {
    fn default() -> Self {
        Self {
            max_bytes: MAX_TEXTS_BYTES,
            max_line_bytes: MAX_TEXT_LINE_BYTES,
            max_lines: None,
        }
    }
}

impl TextsLimits {
    /// Refuses files larger than `bytes`.
    #[must_use]
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// Refuses lines longer than `bytes`.
    #[must_use]
    pub fn max_line_bytes(mut self, bytes: usize) -> Self {
        self.max_line_bytes = bytes;
        self
    }

    /// Stops with an error at line `lines + 1` (a file with more texts than rows is wrong, and
    /// reading it to the end first would be wasted).
    #[must_use]
    pub fn max_lines(mut self, lines: usize) -> Self {
        self.max_lines = Some(lines);
        self
    }
}

/// Reads a texts file written alongside a `.npy` matrix (e.g. `texts-5k.jsonl`), with the
/// default [`TextsLimits`] (1 GiB, lines up to 64 MiB).
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("texts.jsonl");
/// std::fs::write(&path, "\"first passage\"\n{\"text\": \"second passage\", \"id\": 7}\n")?;
/// let texts = zcache_service::read_texts_jsonl(&path)?;
/// assert_eq!(texts, ["first passage", "second passage"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`read_texts_jsonl_with`].
pub fn read_texts_jsonl(path: impl AsRef<Path>) -> Result<Vec<String>> {
    read_texts_jsonl_with(path, TextsLimits::default())
}

/// Reads a texts file within `limits`. Only regular files are read (a FIFO or device cannot be
/// bounded).
///
/// # Errors
/// [`ServiceError::Io`] when the file cannot be read; [`ServiceError::NotAFile`] for a FIFO,
/// device or directory; [`ServiceError::InvalidInput`] naming the file (and line) for a file
/// or line above the limits, too many lines, a line that is not UTF-8, or one that is not a
/// JSON string or an object with a string `"text"`.
pub fn read_texts_jsonl_with(path: impl AsRef<Path>, limits: TextsLimits) -> Result<Vec<String>> {
    let path = path.as_ref();
    let bad = |line: usize, what: &str| {
        ServiceError::InvalidInput(format!("{}: line {line}: {what}", path.display()))
    };
    let too_big = || {
        ServiceError::InvalidInput(format!(
            "{}: larger than the {} bytes a texts file may hold",
            path.display(),
            limits.max_bytes
        ))
    };
    let (file, len) = crate::input::open_regular(path)?;
    if len > limits.max_bytes {
        return Err(too_big());
    }
    // The file may grow while it is read: never read past the limit.
    let mut reader = BufReader::new(file.take(limits.max_bytes.saturating_add(1)));
    let cap = u64::try_from(limits.max_line_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(2);
    let (mut texts, mut line, mut total) = (Vec::new(), Vec::new(), 0u64);
    for number in 1.. {
        line.clear();
        let got = Read::by_ref(&mut reader)
            .take(cap)
            .read_until(b'\n', &mut line)
            .map_err(|e| ServiceError::io(path, e))?;
        if got == 0 {
            break;
        }
        total += got as u64;
        if total > limits.max_bytes {
            return Err(too_big());
        }
        let content = line.strip_suffix(b"\n").unwrap_or(&line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.len() > limits.max_line_bytes {
            return Err(bad(
                number,
                &format!("longer than {} bytes", limits.max_line_bytes),
            ));
        }
        if let Some(max) = limits.max_lines
            && number > max
        {
            return Err(bad(number, &format!("more than the {max} texts expected")));
        }
        texts.push(parse_line(content).map_err(|what| bad(number, &what))?);
    }
    Ok(texts)
}

/// One line: a JSON string, or an object with a string `"text"` field.
fn parse_line(content: &[u8]) -> std::result::Result<String, String> {
    let content = std::str::from_utf8(content).map_err(|_| "not UTF-8".to_owned())?;
    match serde_json::from_str::<serde_json::Value>(content) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        Ok(serde_json::Value::Object(mut o)) => match o.remove("text") {
            Some(serde_json::Value::String(s)) => Ok(s),
            _ => Err("an object without a string \"text\" field".into()),
        },
        Ok(_) => Err("expected a JSON string".into()),
        Err(e) => Err(format!("not JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        std::fs::write(&path, "\"ok\"\n42\n").unwrap();
        let msg = read_texts_jsonl(&path).unwrap_err().to_string();
        assert!(msg.contains("t.jsonl") && msg.contains("line 2"), "{msg}");
        std::fs::write(&path, "{\"title\": \"x\"}\n").unwrap();
        assert!(
            read_texts_jsonl(&path)
                .unwrap_err()
                .to_string()
                .contains("\"text\"")
        );
        std::fs::write(&path, "not json\n").unwrap();
        assert!(
            read_texts_jsonl(&path)
                .unwrap_err()
                .to_string()
                .contains("not JSON")
        );
        assert!(matches!(
            read_texts_jsonl(dir.path().join("missing")),
            Err(ServiceError::Io { .. })
        ));
    }

    #[test]
    fn limits_bound_the_file_the_lines_and_their_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        std::fs::write(&path, "\"a\"\r\n\"bb\"\n\"ccc\"\n").unwrap();
        let all = read_texts_jsonl(&path).unwrap();
        assert_eq!(all, ["a", "bb", "ccc"]);
        let msg = |limits: TextsLimits| {
            read_texts_jsonl_with(&path, limits)
                .unwrap_err()
                .to_string()
        };
        let m = msg(TextsLimits::default().max_lines(2));
        assert!(m.contains("t.jsonl: line 3: more than the 2 texts"), "{m}");
        let m = msg(TextsLimits::default().max_line_bytes(4));
        assert!(m.contains("t.jsonl: line 3: longer than 4 bytes"), "{m}");
        let m = msg(TextsLimits::default().max_bytes(10));
        assert!(m.contains("t.jsonl: larger than the 10 bytes"), "{m}");
        std::fs::write(&path, b"\"ok\"\n\"\xff\"\n").unwrap();
        let m = read_texts_jsonl(&path).unwrap_err().to_string();
        assert!(m.contains("line 2: not UTF-8"), "{m}");
    }

    #[cfg(unix)]
    #[test]
    fn fifos_and_devices_are_refused_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("texts.fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a node.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // Nobody writes to it: reading it would block forever.
        let m = read_texts_jsonl(&fifo).unwrap_err().to_string();
        assert!(m.contains("texts.fifo: a FIFO, not a regular file"), "{m}");
        let m = read_texts_jsonl("/dev/zero").unwrap_err().to_string();
        assert_eq!(m, "/dev/zero: a character device, not a regular file");
        let m = read_texts_jsonl(dir.path()).unwrap_err().to_string();
        assert!(m.contains("a directory, not a regular file"), "{m}");
    }
}
