//! Texts as the Python side writes them: one JSON value per line, either a string or an object
//! with a string `"text"` field; line `i` belongs to row `i` of the embeddings.

use std::path::Path;

use crate::error::{Result, ServiceError};

/// Reads a texts file written alongside a `.npy` matrix (e.g. `texts-5k.jsonl`).
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
/// [`ServiceError::Io`] when the file cannot be read; [`ServiceError::InvalidInput`] naming the
/// file and line for a line that is not a JSON string or an object with a string `"text"`.
pub fn read_texts_jsonl(path: impl AsRef<Path>) -> Result<Vec<String>> {
    let path = path.as_ref();
    let content = std::fs::read_to_string(path).map_err(|source| ServiceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |line: usize, what: &str| {
        ServiceError::InvalidInput(format!("{}: line {line}: {what}", path.display()))
    };
    content
        .lines()
        .enumerate()
        .map(
            |(i, line)| match serde_json::from_str::<serde_json::Value>(line) {
                Ok(serde_json::Value::String(s)) => Ok(s),
                Ok(serde_json::Value::Object(mut o)) => match o.remove("text") {
                    Some(serde_json::Value::String(s)) => Ok(s),
                    _ => Err(bad(i + 1, "an object without a string \"text\" field")),
                },
                Ok(_) => Err(bad(i + 1, "expected a JSON string")),
                Err(e) => Err(bad(i + 1, &format!("not JSON: {e}"))),
            },
        )
        .collect()
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
}
