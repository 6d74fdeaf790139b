//! Mutators: generic byte-level ones, and format-aware ones that aim at length fields (Parquet
//! and Arrow footers, Parquet's Thrift varints, IPC message prefixes, the `.npy` header, zcache
//! entry headers re-sealed so they pass their checksums) and at CSV/JSON Lines structure.
//!
//! Every mutator takes the case's generator and returns a short description of what it did,
//! recorded beside a failing input.

use super::corpus::Format;
use super::rng::Rng;

mod binary;
mod text;
mod thrift;
mod zcache;

/// Largest size a mutant may grow to (long lines, inserted ranges): keeps the harness itself
/// small, since a child's rusage peak starts from its parent's high-water mark.
const MAX_LEN: usize = 8 << 20;

/// Bytes `data` may still grow by.
fn room(data: &[u8]) -> usize {
    MAX_LEN.saturating_sub(data.len())
}

/// Applies 1 to 3 mutations to `data`, a file of `format`; returns their descriptions.
pub fn mutate(data: &mut Vec<u8>, format: Format, rng: &mut Rng) -> Vec<String> {
    let n = rng.between(1, 3);
    let mut done = Vec::with_capacity(n);
    if format == Format::CsvGz && rng.percent(60) {
        // Mutate the text inside, then compress again: reaches the CSV reader behind gzip.
        done.push(binary::inside_gzip(data, n, rng));
        return done;
    }
    for _ in 0..n {
        let aware = rng.percent(60);
        let what = if aware {
            format_aware(data, format, rng)
        } else {
            None
        };
        done.push(what.unwrap_or_else(|| generic(data, rng)));
        data.truncate(MAX_LEN);
    }
    done
}

/// One format-aware mutation, or `None` when the format (or what is left of the file) has none.
fn format_aware(data: &mut Vec<u8>, format: Format, rng: &mut Rng) -> Option<String> {
    match format {
        Format::Parquet => match rng.below(2) {
            0 => binary::footer(data, b"PAR1", 4, rng),
            _ => thrift::lie(data, rng),
        },
        Format::ArrowFile => match rng.below(3) {
            0 => binary::footer(data, b"ARROW1", 4, rng),
            _ => binary::ipc_message(data, 8, rng),
        },
        Format::ArrowStream => binary::ipc_message(data, 0, rng),
        Format::Csv | Format::Tsv => {
            let delimiter = if format == Format::Tsv { b'\t' } else { b',' };
            Some(text::csv(data, delimiter, rng))
        }
        Format::CsvGz => binary::gzip_trailer(data, rng),
        Format::Npy => binary::npy(data, rng),
        Format::Jsonl => Some(text::jsonl(data, rng)),
        Format::CacheFile => zcache::entry(data, rng).or_else(|| Some(lying_word(data, rng))),
    }
}

/// One generic byte-level mutation.
fn generic(data: &mut Vec<u8>, rng: &mut Rng) -> String {
    if data.is_empty() {
        data.push(rng.byte());
        return "empty file: appended a byte".to_owned();
    }
    let len = data.len();
    match rng.below(7) {
        0 => bit_flips(data, 0, len, rng),
        1 => set_bytes(data, 0, len, rng),
        2 => {
            let at = rng.below(data.len());
            data.truncate(at);
            format!("truncated to {at} bytes")
        }
        3 => {
            let at = rng.below(data.len());
            let len = rng.short_len(data.len() - at);
            data.get_mut(at..at + len)
                .into_iter()
                .flatten()
                .for_each(|b| *b = 0);
            format!("zeroed {len} bytes at {at:#x}")
        }
        4 | 5 => duplicate_range(data, rng),
        _ => lying_word(data, rng),
    }
}

/// Flips 1 to 8 random bits in `data[lo..hi]`.
fn bit_flips(data: &mut [u8], lo: usize, hi: usize, rng: &mut Rng) -> String {
    let n = rng.between(1, 8);
    let mut at = Vec::with_capacity(n);
    for _ in 0..n {
        let i = lo + rng.below(hi - lo);
        if let Some(b) = data.get_mut(i) {
            *b ^= 1 << rng.below(8);
            at.push(format!("{i:#x}"));
        }
    }
    format!("flipped {n} bit(s) at {}", at.join(","))
}

/// Sets 1 to 4 random bytes of `data[lo..hi]` to 0x00, 0xFF or a random value.
fn set_bytes(data: &mut [u8], lo: usize, hi: usize, rng: &mut Rng) -> String {
    let n = rng.between(1, 4);
    let mut at = Vec::with_capacity(n);
    for _ in 0..n {
        let i = lo + rng.below(hi - lo);
        let v = match rng.below(3) {
            0 => 0x00,
            1 => 0xFF,
            _ => rng.byte(),
        };
        if let Some(b) = data.get_mut(i) {
            *b = v;
            at.push(format!("{i:#x}={v:#04x}"));
        }
    }
    format!("set byte(s) {}", at.join(","))
}

/// Copies a range of `data` over another place, or inserts the copy there.
fn duplicate_range(data: &mut Vec<u8>, rng: &mut Rng) -> String {
    let from = rng.below(data.len());
    let len = rng.short_len(data.len() - from);
    let to = rng.below(data.len());
    let chunk = data.get(from..from + len).unwrap_or_default().to_vec();
    if rng.percent(50) {
        let end = (to + len).min(data.len());
        data.splice(to..end, chunk.iter().copied().take(end - to));
        format!("copied {len} bytes from {from:#x} over {to:#x}")
    } else {
        let times = if rng.percent(20) {
            rng.between(2, 64)
        } else {
            1
        };
        let times = times.min(room(data) / len).max(1);
        let insert: Vec<u8> = std::iter::repeat_n(chunk, times).flatten().collect();
        data.splice(to..to, insert);
        format!("inserted {times}x {len} bytes from {from:#x} at {to:#x}")
    }
}

/// A value a length field should never hold: huge, negative, or near the file's size.
fn lie(rng: &mut Rng, file_len: usize, width: usize) -> u64 {
    let len = file_len as u64;
    let v = match rng.below(14) {
        0 => 0,
        1 => 1,
        2 => 0x7FFF_FFFF,
        3 => 0x8000_0000,
        4 => u64::MAX,     // -1
        5 => u64::MAX - 1, // -2
        6 => 0x0100_0000,  // 16 MiB
        7 => 1 << 40,
        8 => i64::MAX as u64,
        9 => len,
        10 => len.saturating_sub(1),
        11 => len + 1,
        12 => len.saturating_mul(2),
        _ => rng.next_u64(),
    };
    if width == 4 { v & 0xFFFF_FFFF } else { v }
}

/// Writes `value` little-endian as a `width`-byte word at `at` (clipped to the file).
fn put_word(data: &mut [u8], at: usize, width: usize, value: u64) {
    let bytes = value.to_le_bytes();
    for (i, b) in bytes.iter().take(width).enumerate() {
        if let Some(d) = data.get_mut(at + i) {
            *d = *b;
        }
    }
}

/// Overwrites a random aligned 4- or 8-byte word with a lying length.
fn lying_word(data: &mut [u8], rng: &mut Rng) -> String {
    let width = if rng.percent(50) { 4 } else { 8 };
    if data.len() < width {
        return bit_flips(data, 0, data.len().max(1), rng);
    }
    let at = rng.below(data.len() / width) * width;
    let v = lie(rng, data.len(), width);
    put_word(data, at, width, v);
    format!("lying {width}-byte word {v:#x} at {at:#x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_are_reproducible_and_change_the_input() {
        let seed = b"id,name\n1,\"a, b\"\n2,c\n".to_vec();
        for case in 0..200 {
            let mut a = seed.clone();
            let mut b = seed.clone();
            let da = mutate(&mut a, Format::Csv, &mut Rng::for_case(1, case));
            let db = mutate(&mut b, Format::Csv, &mut Rng::for_case(1, case));
            assert_eq!(a, b);
            assert_eq!(da, db);
            assert!(!da.is_empty() && da.len() <= 3);
        }
    }
}
