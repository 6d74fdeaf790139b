//! `cargo xtask test`: every test of the repository with one command.
//!
//! 1. `cargo test --workspace --locked` (extra arguments are passed on to it);
//! 2. a virtualenv under the target directory (`py-venv`, reused) with pinned maturin, pytest,
//!    numpy and pyarrow installed by pip;
//! 3. `maturin develop` of `crates/membound-py` into it (same target directory as cargo);
//! 4. `pytest python/tests`, whose summary line (`N passed in S s`) is printed as is.
//!
//! A missing python3, venv module or pip is an error with what to install: the Python suite is
//! never skipped silently. pytest collecting no test (exit code 5) is a failure too.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;

/// The Python packages the suite needs, pinned to versions that work with CPython 3.9-3.13
/// (3.11 on the CI machine). maturin >= 1.9.4 builds PyO3 0.30 extension modules.
const PY_REQUIREMENTS: &[&str] = &[
    "maturin==1.16.0",
    "pytest==9.2.0",
    "numpy==2.4.6",
    "pyarrow==26.0.1",
];

/// Arguments of `cargo xtask test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Skip `cargo test --workspace` (run only the Python suite).
    #[arg(long)]
    python_only: bool,
    /// Arguments passed on to `cargo test --workspace --locked` (after `--`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    cargo_args: Vec<String>,
}

pub(crate) fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

fn run_step(name: &str, cmd: &mut Command) -> anyhow::Result<std::process::ExitStatus> {
    let started = Instant::now();
    eprintln!("== xtask test: {name}");
    let status = cmd
        .status()
        .with_context(|| format!("{name}: cannot run {:?}", cmd.get_program()))?;
    eprintln!(
        "-- xtask test: {name}: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(status)
}

/// The python3 to build the virtualenv with: `$MEMBOUND_PYTHON`, else `python3` on the PATH.
pub(crate) fn find_python() -> anyhow::Result<OsString> {
    let python = std::env::var_os("MEMBOUND_PYTHON").unwrap_or_else(|| "python3".into());
    let version = Command::new(&python)
        .args([
            "-c",
            "import sys; print('%d.%d' % sys.version_info[:2]); sys.exit(sys.version_info < (3, 9))",
        ])
        .output();
    match version {
        Ok(out) if out.status.success() => {
            eprintln!(
                "-- xtask test: {} is Python {}",
                python.to_string_lossy(),
                String::from_utf8_lossy(&out.stdout).trim()
            );
            Ok(python)
        }
        Ok(out) => bail!(
            "{} is Python {}, the membound package needs CPython >= 3.9 (set MEMBOUND_PYTHON to another interpreter)",
            python.to_string_lossy(),
            String::from_utf8_lossy(&out.stdout).trim()
        ),
        Err(e) => bail!(
            "cannot run {} ({e}): the Python suite needs CPython >= 3.9 with venv and pip \
             (Debian: apt-get install python3 python3-venv python3-pip), or MEMBOUND_PYTHON \
             naming one; it is never skipped",
            python.to_string_lossy()
        ),
    }
}

/// Creates (or reuses) the virtualenv and installs the pinned requirements when they changed.
pub(crate) fn prepare_venv(python: &OsString, venv: &Path) -> anyhow::Result<PathBuf> {
    let venv_python = venv.join("bin").join("python");
    if !venv_python.is_file() {
        let status = run_step(
            "python3 -m venv",
            Command::new(python).args(["-m", "venv"]).arg(venv),
        )?;
        if !status.success() {
            bail!(
                "could not create a virtualenv in {} with `{} -m venv` (Debian: apt-get install python3-venv)",
                venv.display(),
                python.to_string_lossy()
            );
        }
    }
    let pip_ok = Command::new(&venv_python)
        .args(["-m", "pip", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !pip_ok {
        bail!(
            "pip is missing in the virtualenv {} (Debian: apt-get install python3-pip python3-venv; \
             or remove the folder to create it again)",
            venv.display()
        );
    }
    let stamp = venv.join(".membound-requirements");
    let wanted = PY_REQUIREMENTS.join("\n");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        eprintln!("-- xtask test: virtualenv {} is up to date", venv.display());
        return Ok(venv_python);
    }
    let status = run_step(
        "pip install",
        Command::new(&venv_python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(PY_REQUIREMENTS),
    )?;
    if !status.success() {
        bail!(
            "pip could not install {} into {}",
            PY_REQUIREMENTS.join(" "),
            venv.display()
        );
    }
    std::fs::write(&stamp, wanted).with_context(|| format!("writing {}", stamp.display()))?;
    Ok(venv_python)
}

/// The checkout to test: the one `cargo xtask` was run in (cargo sets `CARGO_MANIFEST_DIR` for
/// `cargo run`), not the one this binary was compiled in: checkouts sharing a target directory
/// (CI's fresh clone) share `target/release/xtask` too.
pub(crate) fn checkout_root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .and_then(|xtask| xtask.parent().map(Path::to_path_buf))
        .filter(|root| root.join("crates/membound-py/pyproject.toml").is_file())
        .unwrap_or_else(membound_tests::workspace_root)
}

/// Runs `cargo xtask test`.
pub fn run(args: &TestArgs) -> anyhow::Result<()> {
    let root = checkout_root();
    let target = target_dir(&root);
    let started = Instant::now();

    if !args.python_only {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = run_step(
            "cargo test --workspace --locked",
            Command::new(cargo)
                .current_dir(&root)
                .args(["test", "--workspace", "--locked"])
                .args(&args.cargo_args),
        )?;
        if !status.success() {
            bail!("cargo test --workspace failed");
        }
    }
    let python_started = Instant::now();

    let python = find_python()?;
    let venv = target.join("py-venv");
    let venv_python = prepare_venv(&python, &venv)?;
    let bin = venv.join("bin");
    let path = std::env::join_paths(
        std::iter::once(bin.clone()).chain(
            std::env::var_os("PATH")
                .iter()
                .flat_map(std::env::split_paths),
        ),
    )?;

    let status = run_step(
        "maturin develop (crates/membound-py)",
        Command::new(bin.join("maturin"))
            .current_dir(root.join("crates/membound-py"))
            // --strip: the debug module without its symbols (about 30 MB instead of 400).
            .args(["develop", "--locked", "--quiet", "--strip"])
            .env("VIRTUAL_ENV", &venv)
            .env("PATH", &path)
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("PYTHONHOME"),
    )?;
    if !status.success() {
        bail!("maturin develop failed for crates/membound-py");
    }

    let status = run_step(
        "pytest python/tests",
        Command::new(&venv_python)
            .current_dir(&root)
            .args([
                "-m",
                "pytest",
                "python/tests",
                "-q",
                "-p",
                "no:cacheprovider",
            ])
            .env("VIRTUAL_ENV", &venv)
            .env("PATH", &path)
            .env("PYTHONDONTWRITEBYTECODE", "1"),
    )?;
    match status.code() {
        Some(0) => {}
        Some(5) => bail!("pytest collected no test in python/tests: the Python suite must run"),
        _ => bail!("the Python suite failed (pytest python/tests)"),
    }
    eprintln!(
        "== xtask test: all passed in {:.1} s (Python part {:.1} s)",
        started.elapsed().as_secs_f64(),
        python_started.elapsed().as_secs_f64()
    );
    Ok(())
}
