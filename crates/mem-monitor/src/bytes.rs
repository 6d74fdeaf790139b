//! Byte-size vocabulary shared by every membound crate.

/// Bytes in one kibibyte.
pub const KIB: u64 = 1024;
/// Bytes in one mebibyte (the "MB" of every membound API and report).
pub const MIB: u64 = 1024 * 1024;
/// Bytes in one gibibyte (the "GB" of every membound API and report).
pub const GIB: u64 = 1024 * 1024 * 1024;

/// Converts bytes to mebibytes, the unit membound reports in.
///
/// ```
/// assert_eq!(mem_monitor::bytes_to_mb(3 * 1024 * 1024), 3.0);
/// ```
#[must_use]
pub fn bytes_to_mb(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

/// Converts mebibytes to bytes, saturating at zero for negative or NaN input.
///
/// ```
/// assert_eq!(mem_monitor::mb_to_bytes(1.5), 1_572_864);
/// assert_eq!(mem_monitor::mb_to_bytes(-4.0), 0);
/// ```
#[must_use]
pub fn mb_to_bytes(mb: f64) -> u64 {
    if mb.is_nan() || mb <= 0.0 {
        0
    } else {
        (mb * MIB as f64) as u64
    }
}

/// Formats a byte count for people: `512 B`, `1.5 KiB`, `12.0 MiB`, `3.25 GiB`.
///
/// ```
/// assert_eq!(mem_monitor::format_bytes(1536), "1.5 KiB");
/// ```
#[must_use]
pub fn format_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if bytes < KIB {
        format!("{bytes} B")
    } else if bytes < MIB {
        format!("{:.1} KiB", b / KIB as f64)
    } else if bytes < GIB {
        format!("{:.1} MiB", b / MIB as f64)
    } else {
        format!("{:.2} GiB", b / GIB as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_whole_megabytes() {
        for mb in [0u64, 1, 2, 1024, 4096] {
            assert_eq!(mb_to_bytes(bytes_to_mb(mb * MIB)), mb * MIB);
        }
    }

    #[test]
    fn formats_each_unit() {
        assert_eq!(format_bytes(0), "0 B");
        assert_eq!(format_bytes(1023), "1023 B");
        assert_eq!(format_bytes(5 * MIB), "5.0 MiB");
        assert_eq!(format_bytes(3 * GIB + GIB / 4), "3.25 GiB");
    }
}
