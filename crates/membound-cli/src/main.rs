//! `membound`: the terminal face of the membound crates.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line program prints"
)]

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod cmd;
mod output;

/// Keep a data-heavy application inside its memory budget.
#[derive(Debug, Parser)]
#[command(name = "membound", version, about)]
struct Cli {
    /// Show the libraries' log on stderr: -v info, -vv debug, -vvv trace (`RUST_LOG`, when set,
    /// decides instead, e.g. `RUST_LOG=mem_stream=debug`).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
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
    /// Print a shell completion script, e.g. `membound completions bash > /etc/bash_completion.d/membound`.
    Completions {
        /// The shell: bash, zsh, fish, powershell or elvish.
        shell: clap_complete::Shell,
    },
}

/// Sends the libraries' `tracing` events to stderr: what `RUST_LOG` asks for when it is set,
/// else info at `-v`, debug at `-vv`, trace beyond, and nothing without `-v`.
fn init_logging(verbose: u8) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => tracing_subscriber::EnvFilter::new(spec),
        _ => tracing_subscriber::EnvFilter::new(match verbose {
            0 => "off",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }),
    };
    // A second initialisation (impossible here) would only be refused, never panic.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true)
        .try_init();
}

/// Panics inside a file decoder (malformed input) come back as errors and are reported once, as
/// an `error:` line; any other panic is a bug, reported on one line that says so (with a
/// backtrace when `RUST_BACKTRACE` asks for one).
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        if mem_stream::panic_is_contained() {
            return;
        }
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        let location = info
            .location()
            .map_or_else(String::new, |l| format!(" at {l}"));
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("unnamed");
        eprintln!(
            "error: internal error: thread '{name}' panicked{location}: {} (this is a bug in membound; please report it)",
            message.replace(['\n', '\r'], " ")
        );
        let backtrace = std::backtrace::Backtrace::capture();
        if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
            eprintln!("{backtrace}");
        }
    }));
}

/// Keeps glibc from mapping (and the kernel from zero-filling) a fresh region for every large
/// buffer: decoders allocate and free buffers of a few MiB per batch (decompressed Arrow IPC
/// columns above all), which above glibc's default threshold each cost an `mmap`, page faults
/// and a `munmap`. Served from the heap instead, freed buffers are reused by the next batch (a
/// 518 MB Feather file streams in 0.7 s instead of 1.4-2.0 s, at the same peak RSS). Regions
/// above 256 MiB are still mapped, and the heap is still trimmed above 256 MiB of free memory.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    const LARGE: libc::c_int = 256 << 20;
    // SAFETY: `mallopt` only sets glibc's malloc parameters; called once, before any thread
    // starts. A refused setting (return 0) leaves the default, which is only slower.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, LARGE);
        libc::mallopt(libc::M_TRIM_THRESHOLD, LARGE);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

fn main() -> ExitCode {
    tune_allocator();
    install_panic_hook();
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "membound",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
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
            eprintln!("error: {}", output::one_line(&e));
            ExitCode::FAILURE
        }
    }
}
