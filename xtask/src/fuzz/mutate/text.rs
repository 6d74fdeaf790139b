//! Text formats: CSV/TSV structure and the JSON Lines texts of the embeddings.

use super::room;
use crate::fuzz::rng::Rng;

/// The offsets where lines start: 0 and just after each `\n`.
fn line_starts(data: &[u8]) -> Vec<usize> {
    let after_newlines = data
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1);
    std::iter::once(0).chain(after_newlines).collect()
}

/// CSV/TSV structure: very long lines and fields, huge column counts, unbalanced quotes, type
/// drift late in the file, odd bytes and line endings.
pub(super) fn csv(data: &mut Vec<u8>, delimiter: u8, rng: &mut Rng) -> String {
    let starts = line_starts(data);
    let at = rng.pick(&starts).copied().unwrap_or(0).min(data.len());
    let d = char::from(delimiter);
    match rng.below(9) {
        0 => {
            let len = rng.between(64 << 10, 4 << 20).min(room(data)).max(1);
            let fill = *rng.pick(b"x9\"").unwrap_or(&b'x');
            let mut line = vec![fill; len];
            line.push(b'\n');
            data.splice(at..at, line);
            format!(
                "inserted a {len}-byte line of {:?} at {at:#x}",
                char::from(fill)
            )
        }
        1 => {
            let cols = rng
                .pick(&[1_000usize, 10_000, 100_000, 1_000_000])
                .copied()
                .unwrap_or(1000)
                .min(room(data) / 8)
                .max(1);
            let mut line: Vec<u8> = if at == 0 && rng.percent(50) {
                (0..cols)
                    .flat_map(|i| format!("c{i}{d}").into_bytes())
                    .collect()
            } else {
                std::iter::repeat_n([b'1', delimiter], cols)
                    .flatten()
                    .collect()
            };
            line.push(b'\n');
            data.splice(at..at, line);
            format!("inserted a line of {cols} columns at {at:#x}")
        }
        2 => {
            let q = if data.is_empty() {
                0
            } else {
                rng.below(data.len())
            };
            data.insert(q, b'"');
            format!("inserted an unbalanced quote at {q:#x}")
        }
        3 => {
            // A quote opened near the end that never closes: the reader runs to EOF.
            let tail = data.len().saturating_sub(rng.below(64));
            let insert = format!("{d}\"never closed ");
            data.splice(tail..tail, insert.into_bytes());
            format!("opened a quote at {tail:#x} that never closes")
        }
        4 => {
            let value = rng
                .pick(&[
                    "abc",
                    "99999999999999999999999999",
                    "-9223372036854775809",
                    "1e400",
                    "NaN",
                    "-inf",
                    "2024-13-45",
                    "0x1F",
                    "\u{0}",
                ])
                .copied()
                .unwrap_or("abc");
            let line = format!("{value}{d}{value}{d}{value}{d}{value}{d}{value}\n");
            data.splice(at..at, line.into_bytes());
            format!("inserted a row of {value:?} at {at:#x}")
        }
        5 => {
            let bytes: &[u8] = rng
                .pick(&[
                    &b"\xEF\xBB\xBF"[..],
                    &b"\xC3\x28\xFF\xFE"[..],
                    &b"\0\0\0\0"[..],
                    &b"\r"[..],
                    &b"\r\r\n\n"[..],
                    &b"\n\n\n\n\n\n"[..],
                ])
                .copied()
                .unwrap_or(b"\0");
            data.splice(at..at, bytes.iter().copied());
            format!("inserted {bytes:?} at {at:#x}")
        }
        6 => {
            // A row with too few or too many fields.
            let fields = *rng.pick(&[0usize, 1, 2, 7, 50]).unwrap_or(&1);
            let line: String = (0..fields).map(|_| format!("{d}1")).collect();
            data.splice(at..at, format!("{line}\n").into_bytes());
            format!("inserted a row of {fields} extra field(s) at {at:#x}")
        }
        7 => {
            let end = starts
                .iter()
                .copied()
                .find(|&s| s > at)
                .unwrap_or(data.len());
            let line = data.get(at..end).unwrap_or_default().to_vec();
            let times = rng
                .between(2, 2000)
                .min(room(data) / line.len().max(1))
                .max(1);
            let copies: Vec<u8> = std::iter::repeat_n(line, times).flatten().collect();
            data.splice(at..at, copies);
            format!("repeated the line at {at:#x} {times} times")
        }
        _ => {
            let header_end = starts.get(1).copied().unwrap_or(data.len());
            let header = rng
                .pick(&["", "id,id,id,id,id", ",,,,", "\"a\nb\",c", "a"])
                .copied()
                .unwrap_or("")
                .replace(',', &d.to_string());
            data.splice(0..header_end, format!("{header}\n").into_bytes());
            format!("replaced the header with {header:?}")
        }
    }
}

/// JSON Lines texts: line-count mismatches, non-string values, broken JSON, huge strings, bad
/// UTF-8 and escapes.
pub(super) fn jsonl(data: &mut Vec<u8>, rng: &mut Rng) -> String {
    let starts = line_starts(data);
    let at = rng.pick(&starts).copied().unwrap_or(0).min(data.len());
    let end = starts
        .iter()
        .copied()
        .find(|&s| s > at)
        .unwrap_or(data.len());
    match rng.below(5) {
        0 => {
            data.drain(at..end);
            format!("deleted the line at {at:#x}")
        }
        1 => {
            let line = data.get(at..end).unwrap_or_default().to_vec();
            data.splice(at..at, line);
            format!("duplicated the line at {at:#x}")
        }
        2 => {
            let len = rng.between(1 << 10, 4 << 20).min(room(data)).max(1);
            let line = format!("\"{}\"\n", "a".repeat(len));
            data.splice(at..end, line.into_bytes());
            format!("replaced the line at {at:#x} with a {len}-byte string")
        }
        _ => {
            let line = *rng
                .pick(&[
                    &b"123"[..],
                    b"null",
                    b"{\"x\": 1}",
                    b"{\"text\": 5}",
                    b"[\"a\", \"b\"]",
                    b"\"unterminated",
                    b"\"\\ud800\"",
                    b"\"\\u0000\"",
                    b"\"\xC3\x28\"",
                    b"",
                    b"{\"text\": \"ok\"",
                ])
                .unwrap_or(&&b"null"[..]);
            let shown = String::from_utf8_lossy(line).into_owned();
            let mut line = line.to_vec();
            line.push(b'\n');
            data.splice(at..end, line);
            format!("replaced the line at {at:#x} with {shown}")
        }
    }
}
