//! Memory bounds of the CLI on inputs that used to take gigabytes: 1 MiB CSV rows, a header of a
//! million columns, `preview --rows 50000000`, an Arrow IPC file whose lengths lie. Each child's
//! peak RSS comes from `wait4`; the bound is the memory limit plus mem-stream's baseline (40 MB),
//! or 256 MB under the default limit.
//!
//! Linux's `ru_maxrss` of a child includes the high-water mark of the address space it was
//! spawned from (the test process's, shared until `exec`), so the figure is an upper bound of
//! membound's own peak: these tests write their inputs as streams and keep their own memory
//! small.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How a child ended and the most memory it held.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    peak_mb: f64,
}

/// Runs membound and reaps it with `wait4`, which reports its peak RSS.
fn run_measured(args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let child = Command::new(env!("CARGO_BIN_EXE_membound"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet reaped (`Child` never waited); both pointers are
    // valid for writes for the duration of the call.
    let reaped = unsafe { libc::wait4(pid, &raw mut status, 0, &raw mut usage) };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    drop(child);
    Run {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        stdout: std::fs::read_to_string(out).unwrap(),
        stderr: std::fs::read_to_string(err).unwrap(),
        // Linux reports kilobytes.
        peak_mb: usage.ru_maxrss as f64 / 1024.0,
    }
}

/// mem-stream's fixed cost outside the limit.
const BASELINE_MB: f64 = 40.0;
/// What every hostile input must stay under with the default limit.
const DEFAULT_CAP_MB: f64 = 256.0;

/// Writes a gzip-compressed CSV of `rows` rows built by `row`.
fn gzip_csv(
    dir: &Path,
    name: &str,
    header: &str,
    rows: usize,
    row: impl Fn(usize) -> String,
) -> PathBuf {
    let p = dir.join(name);
    let file = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    writeln!(gz, "{header}").unwrap();
    for i in 0..rows {
        writeln!(gz, "{}", row(i)).unwrap();
    }
    gz.finish().unwrap().flush().unwrap();
    p
}

#[test]
fn rows_of_a_mebibyte_stream_within_the_limit() {
    let d = tempfile::tempdir().unwrap();
    let text = "lorem ipsum dolor sit amet ".repeat(40_000);
    let text = &text[..1 << 20];
    let p = gzip_csv(d.path(), "long_rows.csv.gz", "id,text", 150, |i| {
        format!("{i},{text}")
    });
    let path = p.to_str().unwrap();
    let limited = run_measured(&[
        "stream",
        path,
        "--memory-limit-mb",
        "100",
        "--chunk-size",
        "10",
    ]);
    assert_eq!(limited.code, Some(0), "{}", limited.stderr);
    assert!(limited.stdout.contains("150 rows"), "{}", limited.stdout);
    assert!(
        limited.peak_mb < 100.0 + BASELINE_MB,
        "peak {} MB",
        limited.peak_mb
    );
    let default = run_measured(&["stream", path]);
    assert_eq!(default.code, Some(0), "{}", default.stderr);
    assert!(
        default.peak_mb < DEFAULT_CAP_MB,
        "peak {} MB",
        default.peak_mb
    );
    // Under a limit too small for one record, a clear error naming its line.
    let tiny = run_measured(&["stream", path, "--memory-limit-mb", "8"]);
    assert_eq!(tiny.code, Some(1));
    assert!(
        tiny.stderr.starts_with("error: ")
            && tiny.stderr.contains("line 2: a record of more than")
            && tiny.stderr.lines().count() == 1,
        "{}",
        tiny.stderr
    );
    assert!(tiny.peak_mb < 8.0 + BASELINE_MB, "peak {} MB", tiny.peak_mb);
}

#[test]
fn a_million_columns_are_refused_in_bounded_memory() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("wide.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    let n = 1_000_000;
    for i in 0..n {
        write!(f, "{}c{i}", if i == 0 { "" } else { "," }).unwrap();
    }
    for _ in 0..3 {
        writeln!(f).unwrap();
        for i in 0..n {
            write!(f, "{}7", if i == 0 { "" } else { "," }).unwrap();
        }
    }
    writeln!(f).unwrap();
    f.flush().unwrap();
    drop(f);
    let path = p.to_str().unwrap();
    for (args, cap) in [
        (vec!["stream", path], DEFAULT_CAP_MB),
        (
            vec!["stream", path, "--memory-limit-mb", "200"],
            200.0 + BASELINE_MB,
        ),
        (vec!["preview", path], DEFAULT_CAP_MB),
    ] {
        let r = run_measured(&args);
        assert_eq!(r.code, Some(1), "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.starts_with("error: ") && r.stderr.lines().count() == 1,
            "{}",
            r.stderr
        );
        assert!(r.peak_mb < cap, "{args:?}: peak {} MB", r.peak_mb);
    }
}

#[test]
fn preview_of_fifty_million_rows_holds_a_chunk() {
    let d = tempfile::tempdir().unwrap();
    let p = gzip_csv(
        d.path(),
        "many.csv.gz",
        "id,name,score,city",
        2_000_000,
        |i| format!("{i},name{},{}.5,city{}", i % 1000, i % 97, i % 13),
    );
    let r = run_measured(&["preview", p.to_str().unwrap(), "--rows", "50000000"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stderr.starts_with("note: ") && r.stderr.contains("showing the first"),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout.contains("| 0 "),
        "{}",
        &r.stdout[..r.stdout.len().min(400)]
    );
    assert!(r.peak_mb < DEFAULT_CAP_MB, "peak {} MB", r.peak_mb);
    let j = run_measured(&[
        "preview",
        p.to_str().unwrap(),
        "--rows",
        "50000000",
        "--json",
    ]);
    assert_eq!(j.code, Some(0), "{}", j.stderr);
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    let shown = v["rows"].as_array().unwrap().len();
    assert!(shown > 10_000 && shown < 2_000_000, "{shown}");
    assert!(j.peak_mb < DEFAULT_CAP_MB, "peak {} MB", j.peak_mb);
}

#[test]
fn an_ipc_file_whose_lengths_lie_costs_no_memory() {
    let d = tempfile::tempdir().unwrap();
    // Two bytes of a 2.6 KB zstd-compressed file: a block's body length becomes ~2 GB, which
    // arrow-ipc's reader zero-fills before reading.
    let mut bytes = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/conformance/arrow-ipc/2.0.0-compression/generated_zstd.arrow"),
    )
    .unwrap();
    bytes[240] = 0x10;
    bytes[1211] = 0x7f;
    let p = d.path().join("lying.arrow");
    std::fs::write(&p, bytes).unwrap();
    for cmd in ["stream", "preview"] {
        let r = run_measured(&[cmd, p.to_str().unwrap()]);
        assert_eq!(r.code, Some(1), "{}", r.stderr);
        assert!(
            r.stderr.starts_with("error: ")
                && r.stderr.contains("lying.arrow")
                && r.stderr.lines().count() == 1,
            "{}",
            r.stderr
        );
        assert!(r.peak_mb < 100.0, "peak {} MB", r.peak_mb);
    }
}
