//! Pure parsers for the Linux files the sampler reads. They take text, never panic, and
//! return `None` for anything malformed, so a fixture test can feed them anything.

/// `/proc/self/statm`: returns `(virtual pages, resident pages)`.
#[must_use]
pub fn statm(text: &str) -> Option<(u64, u64)> {
    let mut fields = text.split_ascii_whitespace();
    let size = fields.next()?.parse().ok()?;
    let resident = fields.next()?.parse().ok()?;
    Some((size, resident))
}

/// A `Key:  N kB` line of `/proc/<pid>/status` (`VmRSS`, `VmHWM`, ...), in bytes. `None` when
/// the key is absent (zombies and kernel threads have no `VmRSS`) or the line is malformed.
///
/// ```
/// let text = "Name:\tx\nVmHWM:\t  4096 kB\nVmRSS:\t2048 kB\n";
/// assert_eq!(mem_monitor::parse::status_bytes(text, "VmRSS"), Some(2048 * 1024));
/// assert_eq!(mem_monitor::parse::status_bytes(text, "VmSwap"), None);
/// ```
#[must_use]
pub fn status_bytes(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find_map(|l| {
        let (k, rest) = l.split_once(':')?;
        (k == key).then_some(rest)
    })?;
    let mut fields = line.split_ascii_whitespace();
    let n: u64 = fields.next()?.parse().ok()?;
    match fields.next() {
        Some("kB") => Some(n.saturating_mul(1024)),
        None => Some(n),
        Some(_) => None,
    }
}

/// `/proc/meminfo`: returns `(MemTotal, MemAvailable)` in bytes. Kernels older than 3.14 lack
/// `MemAvailable`; then `MemFree + Buffers + Cached` stands in for it.
#[must_use]
pub fn meminfo(text: &str) -> Option<(u64, u64)> {
    let (mut total, mut available, mut free, mut buffers, mut cached) =
        (None, None, None, None, None);
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let slot = match key {
            "MemTotal" => &mut total,
            "MemAvailable" => &mut available,
            "MemFree" => &mut free,
            "Buffers" => &mut buffers,
            "Cached" => &mut cached,
            _ => continue,
        };
        *slot = Some(kib_value(rest)?);
        if total.is_some() && available.is_some() {
            break;
        }
    }
    let total = total?;
    let available = match available {
        Some(a) => a,
        None => free?
            .saturating_add(buffers.unwrap_or(0))
            .saturating_add(cached.unwrap_or(0)),
    };
    Some((total, available.min(total)))
}

fn kib_value(rest: &str) -> Option<u64> {
    let mut parts = rest.split_ascii_whitespace();
    let n: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        None => Some(n),
        Some("kB") => n.checked_mul(1024),
        Some(_) => None,
    }
}

/// `/proc/self/cgroup`: the cgroup v2 path of this process (the `0::` line), if any.
#[must_use]
pub fn cgroup_v2_path(text: &str) -> Option<&str> {
    text.lines()
        .find_map(|line| line.strip_prefix("0::"))
        .map(str::trim)
}

/// A cgroup v2 `memory.max`: `Some(None)` for `max` (no limit), `Some(Some(bytes))` for a
/// number, `None` when malformed.
#[must_use]
pub fn cgroup_limit(text: &str) -> Option<Option<u64>> {
    match text.trim() {
        "max" => Some(None),
        t => t.parse().ok().map(Some),
    }
}

/// A cgroup v2 `memory.current`: bytes, or `None` when malformed.
#[must_use]
pub fn cgroup_usage(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// `/proc/pressure/memory`: returns the `(some, full)` avg10 percentages. `full` is absent on
/// some kernels for the system-wide file; then it is `None` while `some` is still returned.
#[must_use]
pub fn psi(text: &str) -> Option<(f64, Option<f64>)> {
    let mut some = None;
    let mut full = None;
    for line in text.lines() {
        let mut parts = line.split_ascii_whitespace();
        let slot = match parts.next() {
            Some("some") => &mut some,
            Some("full") => &mut full,
            _ => continue,
        };
        *slot = parts
            .find_map(|kv| kv.strip_prefix("avg10="))
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0);
    }
    Some((some?, full))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MEMINFO: &str = "MemTotal:       24567890 kB\nMemFree:         1000000 kB\nMemAvailable:   20000000 kB\nBuffers:          100 kB\n";

    #[test]
    fn status_lines() {
        let text = "Name:\tx\nVmHWM:\t  4096 kB\nVmRSS:\t  2048 kB\n";
        assert_eq!(status_bytes(text, "VmRSS"), Some(2048 * 1024));
        assert_eq!(status_bytes(text, "VmHWM"), Some(4096 * 1024));
        assert_eq!(status_bytes("Name:\tx\nState: Z\n", "VmRSS"), None);
        assert_eq!(
            status_bytes("VmRSS:\t18446744073709551615 kB\n", "VmRSS"),
            Some(u64::MAX)
        );
        assert_eq!(status_bytes("VmRSS:\t-5 kB\n", "VmRSS"), None);
        assert_eq!(status_bytes("VmRSS:\t5 MB\n", "VmRSS"), None);
        assert_eq!(status_bytes("XVmRSS:\t5 kB\n", "VmRSS"), None);
    }

    #[test]
    fn statm_fields() {
        assert_eq!(statm("1000 250 30 4 0 100 0\n"), Some((1000, 250)));
        assert_eq!(statm(""), None);
        assert_eq!(statm("12 x"), None);
    }

    #[test]
    fn meminfo_total_and_available() {
        assert_eq!(
            meminfo(MEMINFO),
            Some((24_567_890 * 1024, 20_000_000 * 1024))
        );
        let old = "MemTotal: 100 kB\nMemFree: 10 kB\nBuffers: 5 kB\nCached: 20 kB\n";
        assert_eq!(meminfo(old), Some((100 * 1024, 35 * 1024)));
        assert_eq!(meminfo("MemTotal: lots kB\n"), None);
        assert_eq!(meminfo("nothing here"), None);
    }

    #[test]
    fn cgroup_files() {
        assert_eq!(
            cgroup_v2_path("0::/user.slice/session-1.scope\n"),
            Some("/user.slice/session-1.scope")
        );
        assert_eq!(cgroup_v2_path("12:memory:/docker/abc\n"), None);
        assert_eq!(cgroup_limit("max\n"), Some(None));
        assert_eq!(cgroup_limit("536870912\n"), Some(Some(536_870_912)));
        assert_eq!(cgroup_limit("-1"), None);
        assert_eq!(cgroup_limit(""), None);
        assert_eq!(cgroup_usage("123\n"), Some(123));
        assert_eq!(cgroup_usage("garbage"), None);
    }

    #[test]
    fn psi_lines() {
        let text = "some avg10=1.50 avg60=0.00 avg300=0.00 total=123\nfull avg10=0.25 avg60=0.00 avg300=0.00 total=4\n";
        assert_eq!(psi(text), Some((1.5, Some(0.25))));
        assert_eq!(psi("some avg10=3.00 avg60=0.00\n"), Some((3.0, None)));
        assert_eq!(psi("some avg10=NaN\n"), None);
        assert_eq!(psi(""), None);
    }

    #[test]
    fn fixture_files_round_trip_through_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("memory.max");
        std::fs::write(&path, "max\n").unwrap();
        assert_eq!(
            cgroup_limit(&std::fs::read_to_string(&path).unwrap()),
            Some(None)
        );
        std::fs::write(&path, [0xff, 0xfe, 0x00]).unwrap();
        // Not UTF-8: the reader turns this into `None` before parsing; lossy text parses to None too.
        assert_eq!(
            cgroup_limit(&String::from_utf8_lossy(&std::fs::read(&path).unwrap())),
            None
        );
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC*") {
            let _ = status_bytes(&s, "VmRSS");
            let _ = statm(&s);
            let _ = meminfo(&s);
            let _ = cgroup_v2_path(&s);
            let _ = cgroup_limit(&s);
            let _ = cgroup_usage(&s);
            let _ = psi(&s);
        }
    }
}
