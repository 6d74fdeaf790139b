//! The embeddings seeds: the real 5k-row `.npy` with its texts, and a 50-row copy (header
//! re-written) with the first 50 texts; plus the `.npy` header helpers the mutators use.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{Context, bail};

use super::{Format, NpyPair, Seed};

/// Rows kept in the small embeddings seed.
const SMALL_NPY_ROWS: usize = 50;

/// The parsed header of a version 1 `.npy` file of float32.
#[derive(Debug, Clone, Copy)]
pub struct NpyHeader {
    /// Bytes before the data: magic, version, length field and the padded dict.
    pub data_offset: usize,
    /// Rows of the matrix.
    pub rows: usize,
    /// Columns of the matrix.
    pub dim: usize,
}

/// Parses the header of a (valid) version 1/2 `.npy` file: its data offset and 2-D shape.
pub fn parse_npy_header(bytes: &[u8]) -> Option<NpyHeader> {
    if !bytes.starts_with(b"\x93NUMPY") {
        return None;
    }
    let (len, start) = match bytes.get(6)? {
        1 => (
            usize::from(u16::from_le_bytes([*bytes.get(8)?, *bytes.get(9)?])),
            10,
        ),
        2 | 3 => {
            let word: [u8; 4] = bytes.get(8..12)?.try_into().ok()?;
            (usize::try_from(u32::from_le_bytes(word)).ok()?, 12)
        }
        _ => return None,
    };
    let dict = std::str::from_utf8(bytes.get(start..start + len)?).ok()?;
    let shape = dict.split("'shape':").nth(1)?;
    let inner = shape.split('(').nth(1)?.split(')').next()?;
    let mut dims = inner
        .split(',')
        .filter_map(|s| s.trim().parse::<usize>().ok());
    Some(NpyHeader {
        data_offset: start + len,
        rows: dims.next()?,
        dim: dims.next()?,
    })
}

/// A version 1 `.npy` header for a little-endian float32 matrix, padded to 64 bytes.
pub fn npy_header(dict: &str) -> Vec<u8> {
    let mut text = dict.to_owned();
    while !(10 + text.len() + 1).is_multiple_of(64) {
        text.push(' ');
    }
    text.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&u16::try_from(text.len()).unwrap_or(u16::MAX).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    out
}

/// The standard dict of a C-order little-endian float32 matrix.
pub fn npy_dict(rows: &str, dim: &str) -> String {
    format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}")
}

/// The real embeddings with their texts, and a small copy (first rows, re-written header).
pub(super) fn embeddings(root: &Path) -> anyhow::Result<Vec<NpyPair>> {
    let npy_path = membound_tests::testdata("embeddings/minilm-5k.npy");
    let texts_path = membound_tests::testdata("embeddings/texts-5k.jsonl");
    let bytes =
        std::fs::read(&npy_path).with_context(|| format!("reading {}", npy_path.display()))?;
    let Some(header) = parse_npy_header(&bytes) else {
        bail!("{} has no 2-D .npy header", npy_path.display());
    };
    let rows = SMALL_NPY_ROWS.min(header.rows);
    let data_len = rows * header.dim * 4;
    let data = bytes
        .get(header.data_offset..header.data_offset + data_len)
        .with_context(|| format!("{} is shorter than its header says", npy_path.display()))?;
    let mut small = npy_header(&npy_dict(&rows.to_string(), &header.dim.to_string()));
    small.extend_from_slice(data);
    let small_npy = root.join(format!("minilm-{rows}.npy"));
    std::fs::write(&small_npy, &small)
        .with_context(|| format!("writing {}", small_npy.display()))?;

    let reader = BufReader::new(
        File::open(&texts_path).with_context(|| format!("opening {}", texts_path.display()))?,
    );
    let mut texts = String::new();
    for line in reader.lines().take(rows) {
        texts.push_str(&line?);
        texts.push('\n');
    }
    let small_texts = root.join(format!("texts-{rows}.jsonl"));
    std::fs::write(&small_texts, texts)
        .with_context(|| format!("writing {}", small_texts.display()))?;
    Ok(vec![
        NpyPair {
            npy: Seed::new(small_npy, Format::Npy),
            texts: Seed::new(small_texts, Format::Jsonl),
        },
        NpyPair {
            npy: Seed::new(npy_path, Format::Npy),
            texts: Seed::new(texts_path, Format::Jsonl),
        },
    ])
}
