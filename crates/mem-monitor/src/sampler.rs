//! Reading the OS. On Linux: `/proc` and cgroup v2 files, opened once and re-read with `pread`
//! into stack buffers (no allocation on the sampling path). Elsewhere, or when `/proc` is not
//! readable: `sysinfo`.

use crate::MonitorError;
use crate::stats::RawSample;

#[cfg(target_os = "linux")]
mod linux {
    use std::fs::File;
    use std::os::unix::fs::FileExt;
    use std::path::{Path, PathBuf};
    use std::sync::OnceLock;

    use crate::parse;
    use crate::stats::RawSample;

    /// Open handles to everything one sample reads. Procfs and cgroupfs regenerate a file's
    /// content when it is read from offset 0, so one handle serves every sample.
    pub(super) struct Files {
        statm: Option<File>,
        meminfo: Option<File>,
        cgroup_max: Option<File>,
        cgroup_current: Option<File>,
        psi: Option<File>,
        page_size: u64,
    }

    fn open(path: &Path) -> Option<File> {
        File::open(path).ok()
    }

    fn cgroup_dir() -> Option<PathBuf> {
        let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let rel = parse::cgroup_v2_path(&text)?;
        let dir = Path::new("/sys/fs/cgroup").join(rel.trim_start_matches('/'));
        dir.join("memory.current").exists().then_some(dir)
    }

    pub(super) fn files() -> &'static Files {
        static FILES: OnceLock<Files> = OnceLock::new();
        FILES.get_or_init(|| {
            let cgroup = cgroup_dir();
            // SAFETY: sysconf has no preconditions; it returns -1 for an unknown name.
            let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            Files {
                statm: open(Path::new("/proc/self/statm")),
                meminfo: open(Path::new("/proc/meminfo")),
                cgroup_max: cgroup.as_ref().and_then(|d| open(&d.join("memory.max"))),
                cgroup_current: cgroup
                    .as_ref()
                    .and_then(|d| open(&d.join("memory.current"))),
                psi: open(Path::new("/proc/pressure/memory")),
                page_size: u64::try_from(page_size)
                    .ok()
                    .filter(|&p| p > 0)
                    .unwrap_or(4096),
            }
        })
    }

    /// Reads a whole small file from offset 0 into `buf`; `None` when unreadable or not UTF-8.
    fn read<'b>(file: Option<&File>, buf: &'b mut [u8]) -> Option<&'b str> {
        let file = file?;
        let mut len = 0;
        while len < buf.len() {
            match file.read_at(&mut buf[len..], len as u64) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        std::str::from_utf8(&buf[..len]).ok()
    }

    impl Files {
        pub(super) fn sample(&self) -> Option<RawSample> {
            let mut buf = [0u8; 256];
            let (virt_pages, rss_pages) = parse::statm(read(self.statm.as_ref(), &mut buf)?)?;
            let mut out = RawSample {
                process_rss_bytes: rss_pages.saturating_mul(self.page_size),
                process_virtual_bytes: virt_pages.saturating_mul(self.page_size),
                ..RawSample::default()
            };
            // MemTotal and MemAvailable are in the first three lines; 512 bytes covers them.
            let mut big = [0u8; 512];
            let text = read(self.meminfo.as_ref(), &mut big).map(trim_to_last_line)?;
            (out.system_total_bytes, out.system_available_bytes) = parse::meminfo(text)?;
            if let Some(limit) =
                read(self.cgroup_max.as_ref(), &mut buf).and_then(parse::cgroup_limit)
            {
                out.cgroup_limit_bytes = limit;
            }
            out.cgroup_usage_bytes =
                read(self.cgroup_current.as_ref(), &mut buf).and_then(parse::cgroup_usage);
            if let Some((some, full)) = read(self.psi.as_ref(), &mut buf).and_then(parse::psi) {
                out.psi_some_avg10 = Some(some);
                out.psi_full_avg10 = full;
            }
            Some(out)
        }
    }

    /// A buffer cut mid-line would end in a partial number; keep whole lines only.
    fn trim_to_last_line(text: &str) -> &str {
        text.rfind('\n').map_or(text, |i| &text[..=i])
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::level::Thresholds;

        /// Fixture files on disk, read through the same handles and buffers as `/proc`.
        struct Fixture(tempfile::TempDir);

        impl Fixture {
            fn file(&self, name: &str, text: &[u8]) -> Option<File> {
                let path = self.0.path().join(name);
                std::fs::write(&path, text).ok()?;
                open(&path)
            }

            fn files(&self, cgroup_max: &[u8], cgroup_current: &[u8], psi: Option<&[u8]>) -> Files {
                Files {
                    statm: self.file("statm", b"1000 250 30 4 0 100 0\n"),
                    meminfo: self.file(
                        "meminfo",
                        b"MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 400 kB\n",
                    ),
                    cgroup_max: self.file("memory.max", cgroup_max),
                    cgroup_current: self.file("memory.current", cgroup_current),
                    psi: psi.and_then(|t| self.file("pressure", t)),
                    page_size: 4096,
                }
            }
        }

        #[test]
        fn cgroup_and_psi_fixtures_missing_and_malformed() {
            let fx = Fixture(tempfile::tempdir().unwrap());
            // A limit, a usage and PSI: the limit drives the used percentage.
            let raw = fx
                .files(
                    b"2048000\n",
                    b"1024000\n",
                    Some(b"some avg10=1.50 avg60=0.00 avg300=0.00 total=1\nfull avg10=0.25 avg60=0.00 avg300=0.00 total=1\n"),
                )
                .sample()
                .unwrap();
            assert_eq!(raw.process_rss_bytes, 250 * 4096);
            assert_eq!(raw.process_virtual_bytes, 1000 * 4096);
            assert_eq!(
                (raw.system_total_bytes, raw.system_available_bytes),
                (1000 * 1024, 400 * 1024)
            );
            assert_eq!(raw.cgroup_limit_bytes, Some(2_048_000));
            assert_eq!(raw.psi_some_avg10, Some(1.5));
            assert_eq!(raw.psi_full_avg10, Some(0.25));
            let stats = raw.into_stats(&Thresholds::default());
            assert!((stats.system_used_percent - 50.0).abs() < 1e-9);

            // "max" is no limit; malformed usage and a missing PSI file are None, not errors.
            let raw = fx.files(b"max\n", b"not a number", None).sample().unwrap();
            assert_eq!(raw.cgroup_limit_bytes, None);
            assert_eq!(raw.cgroup_usage_bytes, None);
            assert_eq!((raw.psi_some_avg10, raw.psi_full_avg10), (None, None));
            let stats = raw.into_stats(&Thresholds::default());
            assert!(
                (stats.system_used_percent - 60.0).abs() < 1e-9,
                "RAM: 600 of 1000 kB"
            );

            // Binary garbage in the cgroup and PSI files: None.
            let raw = fx
                .files(&[0xff, 0xfe, 0], &[0xff; 300], Some(&[0x80; 10]))
                .sample()
                .unwrap();
            assert_eq!(
                (raw.cgroup_limit_bytes, raw.cgroup_usage_bytes),
                (None, None)
            );
            assert_eq!(raw.psi_some_avg10, None);

            // Without statm or with a malformed meminfo there is no sample (the caller then
            // falls back to sysinfo).
            let mut files = fx.files(b"max", b"1", None);
            files.statm = None;
            assert!(files.sample().is_none());
            let mut files = fx.files(b"max", b"1", None);
            files.meminfo = fx.file("meminfo-bad", b"MemTotal: lots kB\n");
            assert!(files.sample().is_none());
        }
    }
}

fn sysinfo_sample() -> Result<RawSample, MonitorError> {
    use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};
    let mut sys = System::new().map_err(|_| MonitorError::Unavailable("system memory"))?;
    sys.refresh_memory();
    let pid = Pid::from_u32(std::process::id());
    sys.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        true,
        ProcessRefreshKind::nothing().with_memory(),
    );
    let process = sys
        .process(pid)
        .ok_or(MonitorError::Unavailable("process memory"))?;
    Ok(RawSample {
        process_rss_bytes: process.memory(),
        process_virtual_bytes: process.virtual_memory(),
        system_total_bytes: sys.total_memory(),
        system_available_bytes: sys.available_memory(),
        cgroup_limit_bytes: sys.cgroup_limits().map(|c| c.total_memory),
        cgroup_usage_bytes: sys
            .cgroup_limits()
            .map(|c| c.total_memory.saturating_sub(c.free_memory)),
        ..RawSample::default()
    })
}

/// One raw sample from the cheapest source this platform has.
pub(crate) fn sample() -> Result<RawSample, MonitorError> {
    #[cfg(target_os = "linux")]
    if let Some(raw) = linux::files().sample() {
        return Ok(raw);
    }
    sysinfo_sample()
}

/// The portable path, exposed for comparison in tests and benchmarks.
#[doc(hidden)]
pub fn sample_via_sysinfo() -> Result<(u64, u64), MonitorError> {
    sysinfo_sample().map(|r| (r.process_rss_bytes, r.system_total_bytes))
}
