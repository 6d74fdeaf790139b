//! `memkit`: the terminal face of the memkit crates.
#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a command-line program prints")]

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
    /// Sample process and system memory at an interval.
    Monitor(cmd::monitor::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Monitor(args) => cmd::monitor::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
