//! `membound embeddings import|export|stats` against hostile inputs: FIFOs and devices as
//! inputs, FIFOs named like cache entries, devices, FIFOs, symlinks and directories as
//! `--out`, a file given as `--dir`, and a save torn between its two writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::membound;

use zcache_service::{Embeddings, ModelInfo, cache_key_for, read_npy, write_npy};

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The command failed with exactly one line `error: ...` on stderr; returns it.
fn one_error_line(out: &Output) -> String {
    assert!(!out.status.success(), "expected a failure");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.starts_with("error: "), "{err:?}");
    assert_eq!(err.lines().count(), 1, "{err:?}");
    err.trim_end().to_owned()
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

/// A directory with `in.npy` (6 x 8), `t.jsonl` (its texts), and a cache holding them in
/// `cache/`; returns the directory and the key.
fn setup() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let values: Vec<f32> = (0..48).map(|i| (i as f32 * 0.37).sin()).collect();
    write_npy(
        dir.path().join("in.npy"),
        &Embeddings::new(values, 6, 8).unwrap(),
    )
    .unwrap();
    let texts: Vec<String> = (0..6).map(|i| format!("text {i}")).collect();
    let body: String = texts.iter().map(|t| format!("{t:?}\n")).collect();
    std::fs::write(dir.path().join("t.jsonl"), body).unwrap();
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    ok(&membound(&[
        "embeddings",
        "import",
        &p("in.npy"),
        "--texts",
        &p("t.jsonl"),
        "--model",
        "m",
        "--dir",
        &p("cache"),
    ]));
    let key = cache_key_for(&texts, &ModelInfo::new("m"));
    (dir, key)
}

#[test]
fn inputs_that_cannot_be_bounded_are_refused_at_once() {
    let (dir, _) = setup();
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    mkfifo(&dir.path().join("m.fifo"));
    mkfifo(&dir.path().join("t.fifo"));
    let import = |npy: &str, texts: &str| {
        membound(&[
            "embeddings",
            "import",
            npy,
            "--texts",
            texts,
            "--model",
            "m",
            "--dir",
            &p("cache2"),
        ])
    };
    let cases = [
        (
            import(&p("m.fifo"), &p("t.jsonl")),
            format!("{}: a FIFO, not a regular file", p("m.fifo")),
        ),
        (
            import(&p("in.npy"), &p("t.fifo")),
            format!("{}: a FIFO, not a regular file", p("t.fifo")),
        ),
        (
            import(&p("in.npy"), "/dev/zero"),
            "/dev/zero: a character device, not a regular file".into(),
        ),
        (
            import("/dev/zero", &p("t.jsonl")),
            "/dev/zero: a character device, not a regular file".into(),
        ),
        (
            import(&p("cache"), &p("t.jsonl")),
            format!("{}: a directory, not a regular file", p("cache")),
        ),
    ];
    for (out, want) in cases {
        let err = one_error_line(&out);
        assert!(err.ends_with(&want), "{err:?} should end with {want:?}");
    }
    // More texts than rows: stopped at the first extra line, named.
    let mut body = std::fs::read_to_string(p("t.jsonl")).unwrap();
    body.push_str("\"one too many\"\n\"and more\"\n");
    std::fs::write(p("long.jsonl"), body).unwrap();
    let err = one_error_line(&import(&p("in.npy"), &p("long.jsonl")));
    assert!(
        err.contains("long.jsonl: line 7: more than the 6 texts"),
        "{err}"
    );
    assert!(!dir.path().join("cache2").exists());
}

#[test]
fn a_fifo_named_like_an_entry_hangs_neither_stats_nor_export() {
    let (dir, key) = setup();
    let cache = dir.path().join("cache");
    let entry = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "zc"))
        .unwrap();
    let mut name = entry.file_name().unwrap().to_string_lossy().into_owned();
    // Another valid entry name: change the first hex digit.
    name.replace_range(0..1, if name.starts_with('0') { "1" } else { "0" });
    mkfifo(&cache.join(&name));
    let c = cache.to_string_lossy().into_owned();
    let stats: serde_json::Value = serde_json::from_str(&ok(&membound(&[
        "embeddings",
        "stats",
        "--dir",
        &c,
        "--json",
    ])))
    .unwrap();
    assert_eq!(stats["entry_count"].as_u64(), Some(1), "{stats}");
    let out = dir.path().join("out.npy");
    ok(&membound(&[
        "embeddings",
        "export",
        &key,
        "--out",
        out.to_str().unwrap(),
        "--dir",
        &c,
    ]));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(dir.path().join("in.npy")).unwrap()
    );
    assert!(
        std::fs::symlink_metadata(cache.join(&name)).is_ok(),
        "the FIFO stays"
    );
}

#[test]
fn export_never_replaces_a_device_fifo_symlink_or_directory() {
    let (dir, key) = setup();
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let cache = p("cache");
    mkfifo(&dir.path().join("o.fifo"));
    std::fs::write(p("target"), b"keep me").unwrap();
    std::os::unix::fs::symlink(p("target"), p("o.link")).unwrap();
    std::fs::create_dir(p("o.dir")).unwrap();
    let export = |out: &str, texts_out: Option<&str>| {
        let mut args: Vec<&str> = vec!["embeddings", "export", &key, "--out", out, "--dir", &cache];
        if let Some(t) = texts_out {
            args.extend(["--texts-out", t]);
        }
        membound(&args)
    };
    let fine = p("fine.npy");
    for (out, texts_out, bad, kind) in [
        (
            "/dev/null".to_owned(),
            None,
            "/dev/null".to_owned(),
            "a character device",
        ),
        (p("o.fifo"), None, p("o.fifo"), "a FIFO"),
        (p("o.link"), None, p("o.link"), "a symbolic link"),
        (p("o.dir"), None, p("o.dir"), "a directory"),
        (
            fine.clone(),
            Some("/dev/null".to_owned()),
            "/dev/null".to_owned(),
            "a character device",
        ),
        (fine.clone(), Some(p("o.fifo")), p("o.fifo"), "a FIFO"),
    ] {
        let err = one_error_line(&export(&out, texts_out.as_deref()));
        assert!(
            err.starts_with(&format!("error: {bad}: is {kind}; refusing to replace it")),
            "{err}"
        );
    }
    assert!(
        !Path::new(&fine).exists(),
        "refused before anything was written"
    );
    let dev_null = std::fs::metadata("/dev/null").unwrap();
    assert!(!dev_null.is_file(), "/dev/null is still a device");
    assert!(
        std::fs::symlink_metadata(p("o.link"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read(p("target")).unwrap(), b"keep me");
    assert!(!std::fs::symlink_metadata(p("o.fifo")).unwrap().is_file());
    // Both outputs to one path is refused too.
    let err = one_error_line(&export(&fine, Some(&fine)));
    assert!(err.contains("both --out and --texts-out"), "{err}");
    // A regular file is replaced, atomically, nothing left behind.
    std::fs::write(&fine, b"old").unwrap();
    ok(&export(&fine, Some(&p("fine.jsonl"))));
    assert_eq!(read_npy(&fine).unwrap().shape(), (6, 8));
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
}

#[test]
fn a_file_given_as_the_directory_is_one_clear_error() {
    let (dir, key) = setup();
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let f = p("t.jsonl");
    let want = format!("error: {f}: not a directory");
    let outs = [
        membound(&[
            "embeddings",
            "import",
            &p("in.npy"),
            "--texts",
            &f,
            "--model",
            "m",
            "--dir",
            &f,
        ]),
        membound(&["embeddings", "stats", "--dir", &f]),
        membound(&[
            "embeddings",
            "export",
            &key,
            "--out",
            &p("x.npy"),
            "--dir",
            &f,
        ]),
    ];
    for out in outs {
        assert_eq!(one_error_line(&out), want);
    }
}

/// Every entry file's bytes, by path.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "zc"))
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect()
}

#[test]
fn stats_and_export_agree_after_a_resave_torn_between_its_writes() {
    let (dir, key) = setup();
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let cache = dir.path().join("cache");
    let old = snapshot(&cache);
    ok(&membound(&[
        "embeddings",
        "import",
        &p("in.npy"),
        "--texts",
        &p("t.jsonl"),
        "--model",
        "m",
        "--dir",
        &p("cache"),
        "--precision",
        "int8",
    ]));
    // Killed between the blob's rename and the record's: the old (f32) record is back.
    let (meta, bytes) = old
        .iter()
        .find(|(_, b)| b.windows(9).any(|w| w == b"zcs/meta/"))
        .unwrap();
    std::fs::write(meta, bytes).unwrap();
    let stats: serde_json::Value = serde_json::from_str(&ok(&membound(&[
        "embeddings",
        "stats",
        "--dir",
        &p("cache"),
        "--json",
    ])))
    .unwrap();
    let entry = &stats["entries"][0];
    assert_eq!(entry["precision"].as_str(), Some("int8"), "{stats}");
    assert!(
        entry["fidelity"]["min_cosine"].as_f64().unwrap() < 1.0,
        "{stats}"
    );
    ok(&membound(&[
        "embeddings",
        "export",
        &key,
        "--out",
        &p("out.npy"),
        "--dir",
        &p("cache"),
    ]));
    assert_ne!(
        std::fs::read(p("out.npy")).unwrap(),
        std::fs::read(p("in.npy")).unwrap(),
        "the data read is the int8 save, as listed"
    );
}
