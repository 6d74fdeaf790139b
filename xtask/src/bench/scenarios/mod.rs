//! Scenarios: each runs in its own child process (`xtask scenario NAME --ARG VALUE...`) and
//! prints its typed result as one JSON object on its last stdout line.
//!
//! A scenario is a struct of arguments (clap parses them in the child; serde turns them into
//! the child's command line in the parent, see [`Scenario::to_args`]) with a typed
//! [`Output`](RunScenario::Output) that the parent reads back.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub mod cache;
pub mod memory;
pub mod monitor;
pub mod shared;
pub mod table;

/// One scenario's arguments and what it measures.
pub trait RunScenario: Into<Scenario> {
    /// What the child prints and the parent reads back.
    type Output: Serialize + DeserializeOwned;

    /// Runs the scenario in this (child) process.
    fn run(self) -> anyhow::Result<Self::Output>;
}

/// Declares the [`Scenario`] enum (a clap subcommand per scenario, serde-tagged with the same
/// kebab-case name) and dispatches each variant to its [`RunScenario::run`].
macro_rules! scenarios {
    ($($(#[$doc:meta])* $variant:ident($ty:ty),)*) => {
        /// Every scenario, as the hidden `xtask scenario` subcommand takes it.
        #[derive(Debug, Clone, PartialEq, clap::Subcommand, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum Scenario {
            $($(#[$doc])* $variant($ty),)*
        }

        $(impl From<$ty> for Scenario {
            fn from(s: $ty) -> Self {
                Self::$variant(s)
            }
        })*

        impl Scenario {
            /// Runs the scenario; its result as one line of JSON.
            fn run_to_json(self) -> anyhow::Result<String> {
                match self {
                    $(Self::$variant(s) => Ok(serde_json::to_string(&s.run()?)?),)*
                }
            }
        }
    };
}

scenarios! {
    /// One `memory_stats()` sample, timed.
    MonitorSampleCost(monitor::SampleCost),
    /// A workload with and without a monitor thread.
    MonitorOverhead(monitor::Overhead),
    /// Writes the benchmark's CSV, Parquet and Feather files.
    GenData(super::data::GenData),
    /// Loads a whole file into one batch.
    LoadFull(table::LoadFull),
    /// Streams a whole file.
    Stream(table::Stream),
    /// Optimises the whole table.
    Storage(table::Storage),
    /// Reads the first rows of a file.
    Preview(table::Preview),
    /// A compressed cache of mixed values.
    CacheMixed(cache::Mixed),
    /// The embeddings cache at one precision.
    Embeddings(cache::Embeddings),
    /// A cache hit against reading the files again.
    CacheHit(cache::Hit),
    /// The Zipf trace replayed on zcache and moka.
    Trace(cache::Trace),
    /// 1 KiB gets from zcache and moka, median and p99.
    Get1k(cache::Get1k),
    /// What one memory-tier entry costs in RSS beyond key and payload.
    EntryCost(cache::EntryCost),
    /// The benchmark CSV as a CompactTable (FSST text) against plain Arrow.
    Compact(cache::Compact),
    /// `release_memory` after freeing many blocks.
    Cleanup(memory::Cleanup),
    /// Time to flag a leak.
    Leak(memory::Leak),
    /// The whole pipeline under the manager.
    Pipeline(memory::Pipeline),
    /// A cold-local hit through the shared tier on Redis against plain GETs.
    SharedHit(shared::Hit),
    /// 1 KiB gets per second through the shared tier against plain GETs.
    SharedGets(shared::Gets),
}

impl Scenario {
    /// The child's arguments after `scenario`: the subcommand name and `--field value` for
    /// every field (`--flag` alone for a true boolean; a false one or a `None` is left out),
    /// as clap parses them back.
    pub fn to_args(&self) -> anyhow::Result<Vec<String>> {
        use serde_json::Value;
        let (name, fields) = match serde_json::to_value(self)? {
            Value::Object(tagged) if tagged.len() == 1 => {
                tagged.into_iter().next().unwrap_or_default()
            }
            other => anyhow::bail!("scenario serialised to {other}, not a tagged object"),
        };
        let Value::Object(fields) = fields else {
            anyhow::bail!("scenario {name}'s arguments serialised to {fields}, not an object");
        };
        let mut args = vec![name];
        for (key, value) in fields {
            let flag = format!("--{}", key.replace('_', "-"));
            match value {
                Value::Null | Value::Bool(false) => {}
                Value::Bool(true) => args.push(flag),
                Value::String(s) => args.extend([flag, s]),
                Value::Number(n) => args.extend([flag, n.to_string()]),
                other => anyhow::bail!("scenario argument {key} = {other} is not a scalar"),
            }
        }
        Ok(args)
    }
}

/// Entry point of a scenario child: runs it and prints its result as the last stdout line.
pub fn run_child(scenario: Scenario) -> anyhow::Result<()> {
    println!("{}", scenario.run_to_json()?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Child {
        #[command(subcommand)]
        scenario: Scenario,
    }

    #[test]
    fn every_kind_of_argument_survives_the_command_line() {
        let p = PathBuf::from("/tmp/a b/bench.csv");
        for s in [
            Scenario::from(monitor::SampleCost {}),
            monitor::Overhead { rounds: 3000 }.into(),
            table::Preview {
                path: p.clone(),
                rows: 1000,
                how: table::PreviewHow::FullThenHead,
            }
            .into(),
            cache::Embeddings {
                embeddings: p.clone(),
                precision: zcache_service::Precision::Int8,
                work: p.clone(),
            }
            .into(),
            cache::Trace {
                requests: 100_000,
                keys: 10_000,
                exponent: 0.9,
                codec: zcache::Codec::Zstd(3),
            }
            .into(),
            cache::Get1k {
                codec: zcache::Codec::Lz4,
                samples: 1000,
            }
            .into(),
            cache::EntryCost { entries: 10 }.into(),
            cache::Compact { path: p.clone() }.into(),
            memory::Leak {}.into(),
            shared::Hit {
                embeddings: p.clone(),
                precision: zcache_service::Precision::F16,
                runs: 7,
                max_value_bytes: Some(64 << 20),
            }
            .into(),
            shared::Gets {
                threads: 4,
                keys: 1000,
                round_ms: 1500,
                rounds: 3,
            }
            .into(),
            super::super::data::GenData {
                dir: p,
                rows: 7,
                csv_only: true,
            }
            .into(),
        ] {
            let args = s.to_args().unwrap();
            let parsed = Child::try_parse_from(std::iter::once("scenario".to_owned()).chain(args))
                .unwrap_or_else(|e| panic!("{s:?}: {e}"));
            assert_eq!(parsed.scenario, s);
        }
    }

    #[test]
    fn names_are_the_subcommands_kebab_case() {
        let args = Scenario::from(table::LoadFull {
            path: "f.csv".into(),
        })
        .to_args()
        .unwrap();
        assert_eq!(args, ["load-full", "--path", "f.csv"]);
        assert_eq!(
            Scenario::from(monitor::SampleCost {}).to_args().unwrap(),
            ["monitor-sample-cost"]
        );
    }
}
