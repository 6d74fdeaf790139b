//! The monitor's own costs: one sample, and the sampling thread's overhead on a workload.

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::RunScenario;

/// Times 20,000 `memory_stats()` samples after warming the file handles.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct SampleCost {}

/// What [`SampleCost`] measured.
#[derive(Debug, Serialize, Deserialize)]
pub struct SampleCostResult {
    pub per_sample_us: f64,
    pub samples: u32,
}

impl RunScenario for SampleCost {
    type Output = SampleCostResult;

    fn run(self) -> anyhow::Result<SampleCostResult> {
        mem_monitor::memory_stats()?;
        let samples = 20_000u32;
        let start = Instant::now();
        for _ in 0..samples {
            black_box(mem_monitor::memory_stats()?);
        }
        Ok(SampleCostResult {
            per_sample_us: start.elapsed().as_secs_f64() * 1e6 / f64::from(samples),
            samples,
        })
    }
}

/// A CPU- and allocation-bound workload, timed without and with a monitor sampling every 10 ms.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct Overhead {
    /// Rounds of the workload.
    #[arg(long)]
    pub rounds: u32,
}

/// What [`Overhead`] measured (best of three interleaved runs of each arm).
#[derive(Debug, Serialize, Deserialize)]
pub struct OverheadResult {
    pub plain_ms: f64,
    pub monitored_ms: f64,
    pub overhead_percent: f64,
}

impl RunScenario for Overhead {
    type Output = OverheadResult;

    fn run(self) -> anyhow::Result<OverheadResult> {
        let rounds = self.rounds;
        let work = || {
            let start = Instant::now();
            let mut acc = 0u64;
            for i in 0..rounds {
                let v: Vec<u64> = (0..4096u64)
                    .map(|x| x.wrapping_mul(u64::from(i) | 1))
                    .collect();
                acc = acc.wrapping_add(v.iter().sum::<u64>());
            }
            black_box(acc);
            start.elapsed()
        };
        // Interleave to share the machine's noise between both arms; keep the best of three.
        let mut plain = Duration::MAX;
        let mut monitored = Duration::MAX;
        let monitor = mem_monitor::MemoryMonitor::builder()
            .interval(Duration::from_millis(10))
            .build()?;
        for _ in 0..3 {
            plain = plain.min(work());
            monitor.start()?;
            monitored = monitored.min(work());
            monitor.stop();
        }
        Ok(OverheadResult {
            plain_ms: plain.as_secs_f64() * 1e3,
            monitored_ms: monitored.as_secs_f64() * 1e3,
            overhead_percent: (monitored.as_secs_f64() / plain.as_secs_f64() - 1.0) * 100.0,
        })
    }
}
