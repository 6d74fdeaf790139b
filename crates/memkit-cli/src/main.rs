//! `memkit`: the terminal face of the memkit crates.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line program prints"
)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

/// Keep a data-heavy application inside its memory budget.
#[derive(Debug, Parser)]
#[command(name = "memkit", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect and maintain a zcache directory: stats, verify, optimize, clear.
    Cache(cmd::cache::Args),
    /// Sample process and system memory at an interval.
    Monitor(cmd::monitor::Args),
    /// The embeddings cache: import/export .npy matrices with their texts, list entries.
    Embeddings(cmd::embeddings::Args),
    /// Run a command and profile the memory of it and its descendants: peak, leak verdict, report.
    Profile(cmd::profile::Args),
    /// Stream a table file in chunks, in bounded memory (JSON Lines with --json).
    Stream(cmd::stream::Args),
    /// Show the first rows of a table file, reading only what they need.
    Preview(cmd::preview::Args),
    /// Stream a table file, shrink its types under one stable schema, write Parquet or Feather.
    Optimize(cmd::optimize::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Monitor(args) => cmd::monitor::run(args),
        Command::Cache(args) => cmd::cache::run(args),
        Command::Embeddings(args) => cmd::embeddings::run(args),
        Command::Profile(args) => cmd::profile::run(args),
        Command::Stream(args) => cmd::stream::run(args),
        Command::Preview(args) => cmd::preview::run(args),
        Command::Optimize(args) => cmd::optimize::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
