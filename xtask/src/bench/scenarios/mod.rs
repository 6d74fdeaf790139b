//! Scenarios: each runs in its own child process (`xtask scenario NAME ARGS...`) and prints one
//! JSON object as its last stdout line.

use anyhow::bail;

mod cache;
mod memory;
mod monitor;
mod table;

/// Entry point of a scenario child.
pub fn run_child(name: &str, args: &[String]) -> anyhow::Result<()> {
    let out = match name {
        "monitor-sample-cost" => monitor::sample_cost()?,
        "monitor-overhead" => monitor::overhead(args)?,
        "gen-data" => super::data::write_files(args)?,
        "load-full" => table::load_full(args)?,
        "stream" => table::stream(args)?,
        "storage" => table::storage(args)?,
        "preview" => table::preview(args)?,
        "cache-mixed" => cache::mixed(args)?,
        "embeddings" => cache::embeddings(args)?,
        "cache-hit" => cache::hit(args)?,
        "trace" => cache::trace(args)?,
        "cleanup" => memory::cleanup(args)?,
        "leak" => memory::leak(args)?,
        "pipeline" => memory::pipeline(args)?,
        other => bail!("unknown scenario {other:?}"),
    };
    println!("{out}");
    Ok(())
}

/// The value of `--key VALUE` in a scenario's arguments.
pub fn arg<'a>(args: &'a [String], key: &str) -> anyhow::Result<&'a str> {
    args.iter()
        .position(|a| a == key)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
        .ok_or_else(|| anyhow::anyhow!("scenario argument {key} missing"))
}
