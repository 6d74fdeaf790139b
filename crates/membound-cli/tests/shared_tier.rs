//! `--redis URL` on `membound embeddings` and `membound cache`, against the real redis-server
//! `.ci/run` starts (its URL in `MEMBOUND_TEST_REDIS_URL`; the Redis tests are skipped with a
//! printed reason when it is unset): two commands with different `--dir` and one Redis
//! round-trip the real MiniLM embeddings bit-identically, and the password appears in no
//! output, error or `--help`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const URL_VAR: &str = "MEMBOUND_TEST_REDIS_URL";

/// Runs `membound args` with `envs` set and `MEMBOUND_REDIS_*` unset unless given, failing the
/// test (instead of hanging it) after 120 s.
fn membound(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_membound"));
    cmd.args(args)
        .env_remove("MEMBOUND_REDIS_URL")
        .env_remove("MEMBOUND_REDIS_PREFIX")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the membound binary runs");
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("membound {:?} hung", args.first());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// stdout of a command that succeeded, after checking that `secret` is in neither stream.
fn ok(out: &Output, secret: &str) -> String {
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        !stdout.contains(secret) && !stderr.contains(secret),
        "the password was printed"
    );
    assert!(out.status.success(), "{stderr}");
    stdout
}

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/embeddings")
        .join(name)
}

/// The URL's password (or lone user-info), which no output may contain.
fn password(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let userinfo = rest.rsplit_once('@').map_or("", |(u, _)| u);
    userinfo
        .split_once(':')
        .map_or(userinfo, |(_, p)| p)
        .to_owned()
}

/// A prefix no other run shares.
fn unique_prefix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("membound-cli-it:{}:{nanos}", std::process::id())
}

#[allow(clippy::print_stderr, reason = "a skipped test says why")]
fn redis_url() -> Option<String> {
    let url = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!(
            "skipped: {URL_VAR} is unset (.ci/run starts a redis-server and sets it; see .ci/redis.sh)"
        );
    }
    url
}

fn bits(e: &zcache_service::Embeddings) -> Vec<u32> {
    e.as_slice().iter().map(|v| v.to_bits()).collect()
}

#[test]
fn two_directories_share_the_minilm_embeddings_through_one_redis() {
    let Some(url) = redis_url() else { return };
    let secret = password(&url);
    assert!(!secret.is_empty(), "the test server has a password");
    let prefix = unique_prefix();
    let work = tempfile::tempdir().unwrap();
    let p = |n: &str| work.path().join(n).to_string_lossy().into_owned();
    let (npy, texts) = (testdata("minilm-5k.npy"), testdata("texts-5k.jsonl"));
    let (npy, texts) = (npy.to_string_lossy(), texts.to_string_lossy());
    let model = "sentence-transformers/all-MiniLM-L6-v2";

    // Machine one: imports into its own directory and, through the flag, into Redis.
    let line = ok(
        &membound(
            &[
                "embeddings",
                "import",
                &npy,
                "--texts",
                &texts,
                "--model",
                model,
                "--dir",
                &p("one"),
                "--redis",
                &url,
                "--redis-prefix",
                &prefix,
                "--json",
            ],
            &[],
        ),
        &secret,
    );
    let import: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    let key = import["key"].as_str().unwrap().to_owned();
    let shared = &import["shared"];
    assert_eq!(shared["prefix"], prefix.as_str(), "{shared}");
    assert!(shared["writes"].as_u64().unwrap() >= 1, "{shared}");
    assert_eq!(shared["queued"], 0, "flushed before exiting: {shared}");
    assert_eq!(shared["writes_dropped"], 0, "{shared}");
    assert!(
        shared["endpoint"].as_str().unwrap().contains("***"),
        "{shared}"
    );

    // Machine two: another directory (it does not even exist), the URL from the environment.
    let env = [
        ("MEMBOUND_REDIS_URL", url.as_str()),
        ("MEMBOUND_REDIS_PREFIX", prefix.as_str()),
    ];
    let err = String::from_utf8_lossy(
        &membound(
            &[
                "embeddings",
                "export",
                &key,
                "--out",
                &p("back.npy"),
                "--texts-out",
                &p("back.jsonl"),
                "--dir",
                &p("two"),
            ],
            &env,
        )
        .stderr,
    )
    .into_owned();
    assert!(
        Path::new(&p("back.npy")).exists(),
        "export from Redis: {err}"
    );
    assert!(!err.contains(&secret));
    let (want, back) = (
        zcache_service::read_npy(testdata("minilm-5k.npy")).unwrap(),
        zcache_service::read_npy(p("back.npy")).unwrap(),
    );
    assert_eq!((back.rows(), back.dim()), (5000, 384));
    assert!(bits(&back) == bits(&want), "bit-identical f32");
    assert_eq!(
        zcache_service::read_texts_jsonl(p("back.jsonl")).unwrap(),
        zcache_service::read_texts_jsonl(testdata("texts-5k.jsonl")).unwrap()
    );
    assert!(
        !Path::new(&p("two")).exists(),
        "export never writes a local directory"
    );

    // Another prefix is another namespace: nothing there.
    let out = membound(
        &[
            "embeddings",
            "export",
            &key,
            "--out",
            &p("none.npy"),
            "--dir",
            &p("two"),
            "--redis",
            &url,
            "--redis-prefix",
            &format!("{prefix}-other"),
        ],
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.starts_with("error: ") && err.contains("nor in the shared tier"),
        "{err}"
    );
    assert!(!err.contains(&secret), "{err}");

    // `cache stats` and `embeddings stats` show the shared tier's figures, human and JSON.
    let stats = ok(
        &membound(
            &["cache", "stats", "--dir", &p("one"), "--json"],
            &env.clone(),
        ),
        &secret,
    );
    let stats: serde_json::Value = serde_json::from_str(stats.trim()).unwrap();
    assert_eq!(stats["shared"]["prefix"], prefix.as_str(), "{stats}");
    assert_eq!(stats["shared"]["breaker_open"], false, "{stats}");
    assert!(stats["disk_entries"].as_u64().unwrap() >= 1, "{stats}");
    let table = ok(
        &membound(&["cache", "stats", "--dir", &p("one")], &env),
        &secret,
    );
    for row in [
        "shared tier",
        "shared state",
        "reachable",
        "shared bytes read",
    ] {
        assert!(table.contains(row), "{row} missing from {table}");
    }
    let table = ok(
        &membound(
            &["embeddings", "stats", "--dir", &p("one"), "--redis", &url],
            &[],
        ),
        &secret,
    );
    assert!(
        table.contains(&key) && table.contains("shared tier"),
        "{table}"
    );

    // A wrong password: one clear error line, and neither password in it.
    let wrong = url.replacen(&secret, "not-the-password-4242", 1);
    let out = membound(
        &["cache", "stats", "--dir", &p("one"), "--redis", &wrong],
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a wrong password is refused");
    assert!(
        err.starts_with("error: ") && err.lines().count() == 1,
        "{err}"
    );
    assert!(
        !err.contains("not-the-password-4242") && !err.contains(&secret),
        "{err}"
    );
}

#[test]
fn help_never_shows_the_password_from_the_environment() {
    let env = [(
        "MEMBOUND_REDIS_URL",
        "redis://analyst:hunter2-secret@127.0.0.1:1/0",
    )];
    for args in [
        &["embeddings", "--help"][..],
        &["embeddings", "import", "--help"],
        &["embeddings", "export", "--help"],
        &["cache", "--help"],
        &["cache", "stats", "--help"],
    ] {
        let out = membound(args, &env);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}");
        assert!(text.contains("--redis <URL>"), "{args:?}: {text}");
        assert!(text.contains("MEMBOUND_REDIS_URL"), "{args:?}: {text}");
        assert!(!text.contains("hunter2"), "{args:?}: {text}");
    }
}

#[test]
fn an_unreachable_redis_never_fails_an_import() {
    // Port 1 on loopback refuses connections: the tier is bypassed, the import succeeds
    // locally and says that Redis did not get the entry. No server needed.
    let work = tempfile::tempdir().unwrap();
    let p = |n: &str| work.path().join(n).to_string_lossy().into_owned();
    let (npy, texts) = (testdata("minilm-5k.npy"), testdata("texts-5k.jsonl"));
    let out = membound(
        &[
            "embeddings",
            "import",
            &npy.to_string_lossy(),
            "--texts",
            &texts.to_string_lossy(),
            "--model",
            "m",
            "--dir",
            &p("c"),
            "--redis",
            "redis://:s3cret-unreachable@127.0.0.1:1/0",
            "--redis-timeout-ms",
            "100",
        ],
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("warning: shared tier") && err.contains("did not reach Redis"),
        "{err}"
    );
    assert!(!err.contains("s3cret-unreachable"), "{err}");
    let key = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let out = membound(
        &[
            "embeddings",
            "export",
            &key,
            "--out",
            &p("x.npy"),
            "--dir",
            &p("c"),
        ],
        &[],
    );
    assert!(out.status.success(), "the local cache has the entry");
}
