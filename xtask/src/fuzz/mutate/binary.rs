//! Binary formats: the length before a `PAR1`/`ARROW1` footer and the footer itself, IPC
//! message prefixes, the gzip trailer (and the CSV inside gzip), the `.npy` header.

use std::io::Read as _;

use super::{MAX_LEN, bit_flips, generic, lie, put_word, set_bytes};
use crate::fuzz::corpus;
use crate::fuzz::rng::Rng;

/// Parquet (`PAR1`, u32 length) or Arrow file (`ARROW1`, i32 length) footer: lies in the length
/// word before the trailing magic (4 bytes, or the 8 bytes before the magic), or corrupts the
/// footer metadata itself.
pub(super) fn footer(
    data: &mut [u8],
    magic: &[u8],
    len_width: usize,
    rng: &mut Rng,
) -> Option<String> {
    if !data.ends_with(magic) || data.len() < magic.len() + 8 {
        return None;
    }
    let len_at = data.len() - magic.len() - len_width;
    let word: [u8; 4] = data.get(len_at..len_at + 4)?.try_into().ok()?;
    let footer_len = usize::try_from(u32::from_le_bytes(word)).ok()?;
    let footer_start = len_at.checked_sub(footer_len);
    let name = String::from_utf8_lossy(magic).into_owned();
    match (rng.below(4), footer_start) {
        (0 | 1, _) | (_, None) => {
            let v = lie(rng, data.len(), 4);
            put_word(data, len_at, 4, v);
            Some(format!(
                "{name} footer length = {v:#x} (was {footer_len:#x})"
            ))
        }
        (2, Some(_)) => {
            let at = data.len() - magic.len() - 8;
            let v = lie(rng, data.len(), 8);
            put_word(data, at, 8, v);
            Some(format!("8 bytes before {name} = {v:#x}"))
        }
        (_, Some(start)) if footer_len > 0 => {
            let what = match rng.below(3) {
                0 => bit_flips(data, start, len_at, rng),
                1 => set_bytes(data, start, len_at, rng),
                _ => {
                    // An aligned word inside the footer: Arrow's blocks hold offsets and lengths.
                    let width = if rng.percent(50) { 4 } else { 8 };
                    let at = start + rng.below(footer_len / width + 1) * width;
                    let v = lie(rng, data.len(), width);
                    put_word(data, at, width, v);
                    format!("lying {width}-byte word {v:#x} at {at:#x}")
                }
            };
            Some(format!("in {name} footer: {what}"))
        }
        _ => None,
    }
}

/// An IPC message: lies in the 4-byte metadata length after a `0xFFFFFFFF` continuation marker,
/// drops the marker (legacy framing), or lies in an aligned word of the message's metadata
/// (where the body length is).
pub(super) fn ipc_message(data: &mut [u8], first: usize, rng: &mut Rng) -> Option<String> {
    let marks: Vec<usize> = (first..data.len().saturating_sub(8))
        .step_by(8)
        .filter(|&p| data.get(p..p + 4) == Some(&[0xFF; 4][..]))
        .collect();
    let &p = rng.pick(&marks)?;
    let word: [u8; 4] = data.get(p + 4..p + 8)?.try_into().ok()?;
    let meta_len = usize::try_from(u32::from_le_bytes(word)).ok()?;
    match rng.below(4) {
        0 | 1 => {
            let v = lie(rng, data.len(), 4);
            put_word(data, p + 4, 4, v);
            Some(format!(
                "IPC message at {p:#x}: metadata length = {v:#x} (was {meta_len:#x})"
            ))
        }
        2 => {
            put_word(data, p, 4, u64::try_from(meta_len).ok()?);
            Some(format!(
                "IPC message at {p:#x}: continuation marker replaced by the length"
            ))
        }
        _ => {
            let at = p + 8 + rng.below(meta_len / 8 + 1) * 8;
            let v = lie(rng, data.len(), 8);
            put_word(data, at, 8, v);
            Some(format!(
                "IPC message at {p:#x}: metadata word at {at:#x} = {v:#x}"
            ))
        }
    }
}

/// The gzip trailer's ISIZE (uncompressed length mod 2^32) or CRC32.
pub(super) fn gzip_trailer(data: &mut [u8], rng: &mut Rng) -> Option<String> {
    let at = data
        .len()
        .checked_sub(if rng.percent(70) { 4 } else { 8 })?;
    let v = lie(rng, data.len(), 4);
    put_word(data, at, 4, v);
    Some(format!("gzip trailer word at {at:#x} = {v:#x}"))
}

/// Decompresses, applies `n` CSV mutations, compresses again (or leaves a corrupt stream).
pub(super) fn inside_gzip(data: &mut Vec<u8>, n: usize, rng: &mut Rng) -> String {
    let mut text = Vec::new();
    if flate2::read::MultiGzDecoder::new(&data[..])
        .read_to_end(&mut text)
        .is_err()
    {
        return generic(data, rng);
    }
    let what: Vec<String> = (0..n)
        .map(|_| super::text::csv(&mut text, b',', rng))
        .collect();
    text.truncate(MAX_LEN);
    match corpus::gzip(&text) {
        Ok(z) => *data = z,
        Err(_) => return generic(data, rng),
    }
    format!("inside gzip: {}", what.join("; "))
}

/// The `.npy` header: a lying shape, dtype, order, header length or version.
pub(super) fn npy(data: &mut Vec<u8>, rng: &mut Rng) -> Option<String> {
    let header = corpus::parse_npy_header(data)?;
    let (rows, dim) = (header.rows.to_string(), header.dim.to_string());
    let rows_plus = header.rows.saturating_add(1).to_string();
    let dim_plus = header.dim.saturating_add(1).to_string();
    let dict = match rng.below(8) {
        0 | 1 => {
            let (r, c) = *rng.pick(&[
                ("18446744073709551615", dim.as_str()),
                (rows.as_str(), "18446744073709551615"),
                ("4294967296", "4294967296"),
                ("9223372036854775807", "2"),
                ("0", dim.as_str()),
                (rows.as_str(), "0"),
                ("-1", dim.as_str()),
                (rows_plus.as_str(), dim.as_str()),
                (rows.as_str(), dim_plus.as_str()),
                ("100000000", dim.as_str()),
            ])?;
            corpus::npy_dict(r, c)
        }
        2 => {
            let shape = rng.pick(&["()", "(5,)", "(1, 2, 3)", "(50, 384", "50, 384", "(a, b)"])?;
            format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}")
        }
        3 => {
            let descr = rng.pick(&["<f8", ">f4", "<i4", "|u1", "<f2", "O", "<U10", "<c8", ""])?;
            corpus::npy_dict(&rows, &dim).replace("<f4", descr)
        }
        4 => corpus::npy_dict(&rows, &dim).replace("False", "True"),
        5 => {
            let v = lie(rng, data.len(), 2);
            let v = *rng.pick(&[0u64, 1, 0xFFFF, v & 0xFFFF])?;
            put_word(data, 8, 2, v);
            return Some(format!("npy header length = {v:#x}"));
        }
        6 => {
            let version = *rng.pick(&[2u8, 3, 0, 9])?;
            if let Some(b) = data.get_mut(6) {
                *b = version;
            }
            return Some(format!("npy version {version}.0 with a v1 header"));
        }
        _ => "{'descr': '<f4', 'fortran_order': False, }".to_owned(),
    };
    let mut new = corpus::npy_header(&dict);
    if rng.percent(20) {
        // Unpadded: the data no longer starts on a 64-byte boundary.
        new.pop();
        new.retain(|&b| b != b' ');
        new.push(b'\n');
        let len = u16::try_from(new.len() - 10).unwrap_or(0);
        put_word(&mut new, 8, 2, u64::from(len));
    }
    data.splice(0..header.data_offset, new);
    Some(format!("npy header dict {dict:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footer_length_is_found() {
        let mut data = vec![0u8; 32];
        data.extend_from_slice(&8u32.to_le_bytes());
        data.extend_from_slice(b"PAR1");
        for case in 0..50 {
            let mut d = data.clone();
            assert!(footer(&mut d, b"PAR1", 4, &mut Rng::for_case(1, case)).is_some());
            assert!(d.ends_with(b"PAR1"));
        }
    }

    #[test]
    fn npy_header_round_trips() {
        let mut npy = corpus::npy_header(&corpus::npy_dict("2", "3"));
        let header_len = npy.len();
        assert_eq!(header_len % 64, 0);
        npy.extend_from_slice(&[0u8; 24]);
        let h = corpus::parse_npy_header(&npy).expect("valid header");
        assert_eq!((h.rows, h.dim, h.data_offset), (2, 3, header_len));
    }
}
