//! Keeping a failing case: its inputs under `target/fuzz/<class>/<case>-<seed name>` and a
//! `.txt` beside them with the command line, exit status, peak RSS and the head of stderr.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::classify::Class;
use super::files::copy_dir;
use super::plan::Case;
use super::run::Outcome;

/// Lines of stderr written into the `.txt`.
const STDERR_LINES: usize = 40;

/// What is printed about the run in every `.txt`: the binary and the seed.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// The CLI binary.
    pub bin: PathBuf,
    /// The run's `--seed`.
    pub seed: u64,
    /// `target/fuzz`.
    pub root: PathBuf,
    /// The options a replay needs besides `--seed` and `--case` (e.g. ` --bin PATH`).
    pub replay_flags: String,
}

/// Saves the inputs of a failing `case` and its report; returns the path of the mutated input.
pub fn keep(
    info: &RunInfo,
    case: &Case,
    outcome: &Outcome,
    class: Class,
) -> anyhow::Result<PathBuf> {
    let dir = info.root.join(class.dir_name());
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let prefix = format!("{:06}", case.index);
    let mut saved = Vec::with_capacity(case.inputs.len());
    for input in &case.inputs {
        let dest = dir.join(format!("{prefix}-{}", input.name));
        if input.copy_from.is_dir() {
            if dest.exists() {
                std::fs::remove_dir_all(&dest)
                    .with_context(|| format!("replacing {}", dest.display()))?;
            }
            copy_dir(&input.copy_from, &dest)?;
        } else {
            std::fs::copy(&input.copy_from, &dest).with_context(|| {
                format!(
                    "copying {} to {}",
                    input.copy_from.display(),
                    dest.display()
                )
            })?;
        }
        saved.push((input.arg.clone(), dest));
    }
    let main = saved
        .first()
        .map(|(_, d)| d.clone())
        .context("a case without inputs")?;
    let report = report(info, case, outcome, class, &saved);
    let txt = PathBuf::from(format!("{}.txt", main.display()));
    std::fs::write(&txt, report).with_context(|| format!("writing {}", txt.display()))?;
    Ok(main)
}

/// A command line for a shell, each argument quoted when it needs to be.
pub fn shell_line(program: &Path, args: &[OsString]) -> String {
    std::iter::once(program.as_os_str())
        .chain(args.iter().map(OsString::as_os_str))
        .map(|a| {
            let s = a.to_string_lossy();
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+".contains(c))
            {
                s.into_owned()
            } else {
                format!("'{}'", s.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The text of the `.txt` report.
fn report(
    info: &RunInfo,
    case: &Case,
    o: &Outcome,
    class: Class,
    saved: &[(PathBuf, PathBuf)],
) -> String {
    let repro_args: Vec<OsString> = case
        .args
        .iter()
        .map(|a| {
            let p = Path::new(a);
            if let Some((_, dest)) = saved.iter().find(|(arg, _)| arg == p) {
                dest.clone().into_os_string()
            } else if case.out_dir.as_deref() == Some(p) {
                OsString::from("$OUT")
            } else {
                a.clone()
            }
        })
        .collect();
    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    let mut t = String::new();
    let _ = writeln!(t, "class: {}", class.name());
    let _ = writeln!(
        t,
        "case: {} (seed {}), seed file {}",
        case.index, info.seed, case.seed_name
    );
    let _ = writeln!(
        t,
        "replay: cargo xtask fuzz --seed {} --case {}{}",
        info.seed, case.index, info.replay_flags
    );
    let _ = writeln!(t, "command: {}", shell_line(&info.bin, &case.args));
    let mut repro = shell_line(&info.bin, &repro_args).replace("'$OUT'", "\"$OUT\"");
    if case.out_dir.is_some() {
        repro = format!("OUT=$(mktemp -d); {repro}");
    }
    if case.args.iter().any(|a| a == "--repair") {
        repro.push_str("   # --repair removes damaged entries: run it on a copy");
    }
    let _ = writeln!(t, "reproduce: {repro}");
    let _ = writeln!(t, "status: {}", o.describe_status());
    let _ = writeln!(t, "wall: {} ms", o.wall.as_millis());
    let _ = writeln!(
        t,
        "peak RSS: {} (ru_maxrss {:.1} MB, VmHWM polled {:.1} MB)",
        o.describe_peak(),
        mb(o.rusage_peak),
        mb(o.hwm)
    );
    let _ = writeln!(t, "mutations:");
    for m in &case.mutations {
        let _ = writeln!(t, "  - {m}");
    }
    let _ = writeln!(t, "stderr (first {STDERR_LINES} lines):");
    for line in o.stderr.lines().take(STDERR_LINES) {
        let _ = writeln!(t, "  {line}");
    }
    t
}
