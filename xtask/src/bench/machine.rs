//! The header of a bench run: which machine, when.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub date_utc: String,
    pub cores: usize,
    pub ram_gb: f64,
    pub cgroup_limit_gb: Option<f64>,
    pub cpu: String,
    pub kernel: String,
}

impl Machine {
    pub fn detect() -> Self {
        let stats = mem_monitor::memory_stats().ok();
        let gb = |b: u64| b as f64 / (1u64 << 30) as f64;
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines().find_map(|l| {
                    l.strip_prefix("model name")
                        .map(|r| r.trim_start_matches([' ', '\t', ':']).to_owned())
                })
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").map_or_else(
            |_| std::env::consts::OS.to_owned(),
            |k| format!("Linux {}", k.trim()),
        );
        Self {
            date_utc: utc_now(),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            ram_gb: stats.as_ref().map_or(0.0, |s| gb(s.system_total_bytes)),
            cgroup_limit_gb: stats.and_then(|s| s.cgroup_limit_bytes).map(gb),
            cpu,
            kernel,
        }
    }

    pub fn header(&self) -> String {
        let limit = self
            .cgroup_limit_gb
            .map_or_else(String::new, |l| format!(", cgroup limit {l:.1} GB"));
        format!(
            "{} | {} cores, {:.1} GB RAM{limit} | {} | {}",
            self.date_utc, self.cores, self.ram_gb, self.cpu, self.kernel
        )
    }
}

/// Now as `YYYY-MM-DD HH:MM UTC`, from the system's `date` (seconds since the epoch if absent).
fn utc_now() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            format!("{secs} s after the Unix epoch")
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn date_looks_like_a_date() {
        let d = super::utc_now();
        assert_eq!(d.len(), "2026-11-26 20:05 UTC".len());
        assert!(d.starts_with("20"));
    }
}
