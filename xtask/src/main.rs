//! `cargo xtask bench`: generates data, runs each scenario in a child process and prints the
//! original guide's tables with every figure measured in this run.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool prints its results"
)]
#![allow(missing_docs, reason = "internal automation, not a published crate")]

use clap::{Parser, Subcommand};

mod bench;
mod fuzz;
mod test;

#[derive(Debug, Parser)]
#[command(name = "xtask", about = "membound automation")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Measure the guide's tables on this machine.
    Bench(bench::BenchArgs),
    /// Mutation-fuzz the membound CLI: panics, hangs, memory breaches, missing `error:` lines.
    Fuzz(fuzz::FuzzArgs),
    /// Every test: `cargo test --workspace`, then the Python package's pytest suite.
    Test(test::TestArgs),
    /// Run one scenario (used by `bench` in child processes).
    #[command(hide = true)]
    Scenario {
        #[command(subcommand)]
        scenario: bench::scenarios::Scenario,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Bench(args) => bench::run(&args),
        Cmd::Fuzz(args) => fuzz::run(&args),
        Cmd::Test(args) => test::run(&args),
        Cmd::Scenario { scenario } => bench::scenarios::run_child(scenario),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
