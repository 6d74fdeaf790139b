//! `membound stream` and `preview` on ordinary messy files: CSV dialect flags, standard input,
//! defaults from the environment, and output that shows the file's types.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

mod common;

use common::membound;

/// Runs `membound args` with `input` on stdin and `env` set.
fn membound_with(args: &[&str], input: &[u8], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_membound"));
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("MEMBOUND_STREAMING_CHUNK_SIZE")
        .env_remove("BERTOPIC_STREAMING_CHUNK_SIZE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("membound runs");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn lines(out: &Output) -> Vec<serde_json::Value> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

fn summary(out: &Output) -> serde_json::Value {
    lines(out).pop().expect("a summary")
}

fn chunks(out: &Output) -> Vec<serde_json::Value> {
    lines(out)
        .into_iter()
        .filter(|l| l["type"] == "chunk")
        .collect()
}

/// 250,000 rows of `id,score`, with `N/A` as the score of row 200,002 (1-based, after the header).
fn messy_csv(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("messy.csv");
    let mut text = String::from("id,score\n");
    for i in 1..=250_000u32 {
        if i == 200_002 {
            text.push_str(&format!("{i},N/A\n"));
        } else {
            text.push_str(&format!("{i},{}\n", i % 97));
        }
    }
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn null_values_flag_reads_a_late_na() {
    let dir = tempfile::tempdir().unwrap();
    let path = messy_csv(dir.path());
    let p = path.to_str().unwrap();
    let out = membound(&["stream", p, "--json"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--null-values"), "{err}");
    assert!(!err.contains("CsvOptions"), "CLI advice names flags: {err}");
    assert!(err.contains("N/A"), "{err}");

    let s = summary(&membound(&[
        "stream",
        p,
        "--json",
        "--null-values",
        "N/A,NULL",
    ]));
    assert_eq!(s["rows"], 250_000);
    let score = &s["columns"][1];
    assert_eq!(score["name"], "score");
    assert_eq!(score["null_count"], 1);
    assert_eq!(score["source_type"], "Int64");
}

#[test]
fn stdin_plain_and_gzip() {
    let text = b"a,b\n1,x\n2,y\n3,z\n";
    let s = summary(&membound_with(&["stream", "-", "--json"], text, &[]));
    assert_eq!(s["rows"], 3);
    assert_eq!(s["input"], "<stdin>");

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text).unwrap();
    let gz = gz.finish().unwrap();
    let s = summary(&membound_with(&["stream", "-", "--json"], &gz, &[]));
    assert_eq!(s["rows"], 3);

    let tsv = b"a\tb\n1\tx\n";
    let s = summary(&membound_with(
        &["stream", "-", "--json", "--format", "tsv"],
        tsv,
        &[],
    ));
    assert_eq!(s["columns"].as_array().unwrap().len(), 2);

    let out = membound_with(&["preview", "-", "--rows", "2", "--json"], text, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(p["rows"].as_array().unwrap().len(), 2);

    // Formats that need seeking are refused with a clear error, not a hang.
    let out = membound_with(&["stream", "-", "--format", "parquet"], b"PAR1", &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error:"));
}

#[test]
fn chunk_size_comes_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("n.csv");
    let mut text = String::from("n\n");
    for i in 0..20_000 {
        text.push_str(&format!("{i}\n"));
    }
    std::fs::write(&path, text).unwrap();
    let p = path.to_str().unwrap();
    for var in [
        "BERTOPIC_STREAMING_CHUNK_SIZE",
        "MEMBOUND_STREAMING_CHUNK_SIZE",
    ] {
        let out = membound_with(&["stream", p, "--json"], b"", &[(var, "5000")]);
        let c = chunks(&out);
        assert_eq!(c.len(), 4, "{var}");
        assert!(c.iter().all(|c| c["rows"] == 5000), "{var}");
    }
    // The flag wins over the environment; a bad variable is an error naming it.
    let out = membound_with(
        &["stream", p, "--json", "--chunk-size", "10000"],
        b"",
        &[("MEMBOUND_STREAMING_CHUNK_SIZE", "5000")],
    );
    assert_eq!(chunks(&out).len(), 2);
    let out = membound_with(
        &["stream", p],
        b"",
        &[("MEMBOUND_STREAMING_CHUNK_SIZE", "lots")],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("MEMBOUND_STREAMING_CHUNK_SIZE"));
}

#[test]
fn dialect_flags() {
    let dir = tempfile::tempdir().unwrap();
    // Semicolons, no header, a comment line, a forced type, no extension.
    let path = dir.path().join("export");
    std::fs::write(&path, "# exported\n1;007;x\n2;010;y\n").unwrap();
    let p = path.to_str().unwrap();
    let s = summary(&membound(&[
        "stream",
        p,
        "--json",
        "--format",
        "csv",
        "--delimiter",
        ";",
        "--no-header",
        "--comment",
        "#",
        "--schema",
        "column_2:utf8",
        "--no-optimize",
    ]));
    assert_eq!(s["rows"], 2);
    assert_eq!(s["columns"][1]["type"], "Utf8");

    // Latin-1: an error naming the line and the flag, then read with --encoding.
    let latin = dir.path().join("latin.csv");
    std::fs::write(&latin, b"name\ncaf\xe9\n").unwrap();
    let l = latin.to_str().unwrap();
    let out = membound(&["stream", l, "--json"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 2") && err.contains("--encoding latin-1"),
        "{err}"
    );
    let out = membound(&["preview", l, "--json", "--encoding", "latin-1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("café"));

    for bad in [
        &["stream", p, "--delimiter", ";;"][..],
        &["stream", p, "--schema", "a:decimal999"][..],
        &["stream", p, "--encoding", "ebcdic"][..],
        &["stream", p, "--format", "docx"][..],
    ] {
        let out = membound(bad);
        assert!(!out.status.success(), "{bad:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("error"));
    }
}

#[test]
fn human_output_shows_both_schemas_and_float32_precision() {
    let parquet =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alltypes_plain.parquet");
    let out = membound(&["stream", parquet.to_str().unwrap(), "--stats"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("file type") && text.contains("type"),
        "{text}"
    );
    let float_row = text
        .lines()
        .find(|l| l.starts_with("float_col"))
        .expect("a float_col row");
    assert!(float_row.contains("1.1"), "{float_row}");
    assert!(!float_row.contains("1.10000002"), "{float_row}");
}
