//! `membound profile [--interval-ms N] [--report FILE.html] [--json] -- CMD ARGS...`.
//!
//! Exits with the command's exit code, like a shell: 127 when the command is not found, 126 when
//! it cannot be run. A report that cannot be written is an `error:` line, but the exit code is
//! still the command's.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::Context;
use mem_profile::{AnalysisConfig, ProfileResult, profile_child};

/// Arguments of `membound profile`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Milliseconds between samples of the command's memory.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    interval_ms: u64,
    /// Write a self-contained HTML report with a chart of memory over time.
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
    /// Print one JSON object (the ProfileResult); the command's stdout goes to stderr.
    #[arg(long)]
    json: bool,
    /// Peak memory (MB) above which the report recommends streaming.
    #[arg(long, value_name = "MB")]
    budget_mb: Option<f64>,
    /// The command to run and its arguments.
    #[arg(required = true, last = true, value_name = "CMD")]
    command: Vec<OsString>,
}

/// The exit code a shell would report: the code, or 128 + signal number.
fn exit_code(status: ExitStatus) -> u8 {
    if let Some(c) = status.code() {
        return u8::try_from(c & 0xff).unwrap_or(1);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return u8::try_from(128 + sig).unwrap_or(255);
        }
    }
    1
}

/// While the command runs, ^C and `kill` go to it (same process group); membound only needs to
/// survive them to report. A handler (not `SIG_IGN`, which the child would inherit) does that.
#[cfg(unix)]
fn survive_interrupts() {
    extern "C" fn noop(_: libc::c_int) {}
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGQUIT] {
        // SAFETY: installing a handler that does nothing is async-signal-safe; the sigaction
        // struct is zero-initialised then filled in.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = noop as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&raw mut sa.sa_mask);
            sa.sa_flags = libc::SA_RESTART;
            libc::sigaction(sig, &raw const sa, std::ptr::null_mut());
        }
    }
}

fn print_human(
    out: &mut impl Write,
    shown: &str,
    status: ExitStatus,
    r: &ProfileResult,
    interval_ms: u64,
) -> std::io::Result<()> {
    writeln!(out, "membound profile: {shown}")?;
    match status.code() {
        Some(c) => writeln!(out, "  exit code:    {c}")?,
        None => writeln!(out, "  exit code:    {} ({status})", exit_code(status))?,
    }
    writeln!(
        out,
        "  duration:     {:.2} s ({} snapshot(s), one every {interval_ms} ms)",
        r.duration_s,
        r.snapshots.len()
    )?;
    writeln!(
        out,
        "  memory:       peak {:.1} MB, start {:.1} MB, end {:.1} MB (RSS of the command and its descendants)",
        r.peak_memory_mb, r.start_memory_mb, r.end_memory_mb
    )?;
    if r.memory_leak_detected {
        writeln!(
            out,
            "  leak:         YES, {:.1} MB/hour ({})",
            r.leak_rate_mb_per_hour, r.leak_analysis.reason
        )?;
    } else {
        writeln!(out, "  leak:         no ({})", r.leak_analysis.reason)?;
    }
    for rec in &r.recommendations {
        writeln!(out, "  recommendation: {rec}")?;
    }
    Ok(())
}

/// Runs `membound profile`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (program, rest) = args
        .command
        .split_first()
        .context("no command given after --")?;
    let shown = args
        .command
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new(program);
    cmd.args(rest);
    if args.json {
        // Keep stdout for the one JSON object: the command's own output goes to stderr.
        #[cfg(unix)]
        {
            use std::os::fd::AsFd;
            let err = std::io::stderr()
                .as_fd()
                .try_clone_to_owned()
                .context("duplicating stderr")?;
            cmd.stdout(Stdio::from(err));
        }
    }
    let mut cfg = AnalysisConfig::default();
    if let Some(b) = args.budget_mb {
        anyhow::ensure!(
            b.is_finite() && b > 0.0,
            "--budget-mb must be a positive number, got {b}"
        );
        cfg.memory_budget_mb = b;
    }
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            // What a shell answers: 127 for a command that does not exist, 126 for one that
            // exists but cannot be run.
            let code = match e.kind() {
                std::io::ErrorKind::NotFound => 127,
                _ => 126,
            };
            eprintln!(
                "error: {}: cannot run the command: {e}",
                program.to_string_lossy()
            );
            return Ok(ExitCode::from(code));
        }
    };
    #[cfg(unix)]
    survive_interrupts();
    let name = program.to_string_lossy().into_owned();
    let (status, result) = profile_child(
        &name,
        &mut child,
        Duration::from_millis(args.interval_ms),
        &cfg,
    )
    .with_context(|| format!("profiling `{shown}`"))?;
    // The command ran: its exit code is the answer even when the report cannot be written.
    let report = args.report.as_ref().filter(|path| {
        let written = result
            .to_html()
            .with_context(|| format!("{}: cannot render the report", path.display()))
            .and_then(|html| {
                crate::output::write_atomically(path, &[], |w| w.write_all(html.as_bytes()))
            });
        match written {
            Ok(()) => true,
            Err(e) => {
                eprintln!(
                    "error: {} (the report was not written)",
                    crate::output::one_line(&e)
                );
                false
            }
        }
    });
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &result)?;
        writeln!(out)?;
    } else {
        print_human(&mut out, &shown, status, &result, args.interval_ms)?;
        if let Some(path) = report {
            writeln!(out, "  report:       {}", path.display())?;
        }
    }
    out.flush()?;
    Ok(ExitCode::from(exit_code(status)))
}
