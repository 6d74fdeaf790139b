//! The shared tier against a real redis-server: the one `.ci/run` starts (its URL in
//! `MEMBOUND_TEST_REDIS_URL`), and for the restart test one of our own from the same binary.
//! Each test works under its own key prefix and removes its keys at the end.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zcache::{CacheError, CompressedCache, Json, PutOptions, RedisTier, SharedTierStats};

const URL_VAR: &str = "MEMBOUND_TEST_REDIS_URL";

/// The test server's URL, or `None` after printing why the test is skipped.
fn redis_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "skipped: {URL_VAR} is unset (.ci/run starts a redis-server and sets it; see .ci/redis.sh)"
            );
            None
        }
    }
}

/// A prefix no other test (or run) uses.
fn prefix(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("zc-it:{}:{nanos}:{name}", std::process::id())
}

fn raw(url: &str) -> redis::Connection {
    redis::Client::open(url)
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(2))
        .unwrap()
}

/// Every key under `prefix`.
fn keys_of(con: &mut redis::Connection, prefix: &str) -> Vec<String> {
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query(con)
        .unwrap();
    keys.sort();
    keys
}

/// Removes the keys of a test (also when it fails).
struct Cleanup {
    url: String,
    prefix: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(client) = redis::Client::open(self.url.as_str())
            && let Ok(mut con) = client.get_connection_with_timeout(Duration::from_secs(1))
        {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{}:*", self.prefix))
                .query(&mut con)
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: redis::RedisResult<()> = redis::cmd("DEL").arg(&keys).query(&mut con);
            }
        }
    }
}

/// A fresh prefix for a test, and the guard that removes its keys.
fn namespace(url: &str, name: &str) -> (String, Cleanup) {
    let p = prefix(name);
    let guard = Cleanup {
        url: url.to_owned(),
        prefix: p.clone(),
    };
    (p, guard)
}

fn tier(url: &str, prefix: &str) -> RedisTier {
    RedisTier::new(url)
        .prefix(prefix)
        .timeout(Duration::from_millis(500))
        .retry_after(Duration::from_millis(100))
}

fn cache_on(dir: Option<&Path>, tier: RedisTier) -> CompressedCache {
    let mut b = CompressedCache::builder()
        .max_memory(8 << 20)
        .cleanup_interval(Duration::ZERO)
        .max_entry_bytes(8 << 20)
        .sync_writes(false)
        .shared(tier);
    if let Some(dir) = dir {
        b = b.enable_disk_cache(dir);
    }
    b.build().unwrap()
}

fn shared(cache: &CompressedCache) -> SharedTierStats {
    cache.shared_stats().expect("a shared tier")
}

/// Bytes that no codec shrinks, so that a value of n bytes is a frame of about n bytes.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn two_caches_with_their_own_disks_share_entries() {
    let Some(url) = redis_url() else { return };
    let (p, _clean) = namespace(&url, "share");
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = cache_on(Some(da.path()), tier(&url, &p));
    let b = cache_on(Some(db.path()), tier(&url, &p));
    let emb: Vec<f32> = (0..384).map(|i| (i as f32 * 0.37).sin()).collect();
    a.put_str("text", &"shared text ".repeat(100)).unwrap();
    a.put_slice("emb", &emb).unwrap();
    a.put_json("doc", &vec![1, 2, 3]).unwrap();
    a.put_bytes("small", b"tiny").unwrap();
    assert!(a.sync_shared(Duration::from_secs(5)));
    assert_eq!(shared(&a).writes, 4);

    assert!(!b.contains("text"), "b's local tiers start empty");
    assert_eq!(
        b.get_string("text").unwrap(),
        Some("shared text ".repeat(100))
    );
    assert_eq!(b.get_vec::<f32>("emb").unwrap(), Some(emb.clone()));
    assert_eq!(b.get::<Json<Vec<i32>>>("doc").unwrap(), Some(vec![1, 2, 3]));
    assert_eq!(b.get_bytes("small").unwrap().as_deref(), Some(&b"tiny"[..]));
    assert_eq!(b.get_bytes("absent").unwrap(), None);
    let s = shared(&b);
    assert_eq!(
        (s.hits, s.misses, s.errors, s.corrupt),
        (4, 1, 0, 0),
        "{s:?}"
    );
    // The hits filled b's local tiers: its disk holds them now, and the next get is local.
    assert!(crate::entry_files(db.path()).len() >= 4);
    assert_eq!(b.get_vec::<f32>("emb").unwrap(), Some(emb));
    assert_eq!(shared(&b).hits, 4);
    let stats = b.get_stats();
    assert_eq!(stats.hits, 5);
    assert_eq!(stats.misses, 1);

    // Latency of a 1 KiB get from Redis (a reader without local tiers asks it every time).
    let kib = noise(1024, 3);
    a.put_bytes("kib", &kib).unwrap();
    assert!(a.sync_shared(Duration::from_secs(5)));
    let remote = CompressedCache::builder()
        .max_memory(0)
        .cleanup_interval(Duration::ZERO)
        .shared(tier(&url, &p))
        .build()
        .unwrap();
    let t = Instant::now();
    for _ in 0..200 {
        assert_eq!(remote.get_bytes("kib").unwrap().as_deref(), Some(&kib[..]));
    }
    eprintln!(
        "1 KiB get through Redis on loopback: {:.0} us",
        t.elapsed().as_secs_f64() / 200.0 * 1e6
    );

    // A removal reaches Redis; a local eviction does not.
    a.remove("doc").unwrap();
    b.remove_local("text").unwrap();
    assert!(a.sync_shared(Duration::from_secs(5)));
    let c = cache_on(None, tier(&url, &p));
    assert_eq!(c.get::<Json<Vec<i32>>>("doc").unwrap(), None);
    assert!(c.get_string("text").unwrap().is_some());
}

#[test]
fn the_password_never_shows_and_a_wrong_one_fails_the_build() {
    let Some(url) = redis_url() else { return };
    let p = prefix("auth");
    let a = cache_on(None, tier(&url, &p));
    let password = url
        .split("://")
        .nth(1)
        .and_then(|r| r.rsplit_once('@'))
        .map(|(u, _)| u.split_once(':').map_or(u, |x| x.1).to_owned())
        .unwrap_or_default();
    assert!(!password.is_empty(), "the CI server has a password");
    let shown = format!(
        "{a:?} {:?} {}",
        a.get_stats(),
        serde_json::to_string(&a.get_stats()).unwrap()
    );
    assert!(!shown.contains(&password), "password leaked: {shown}");
    assert!(shown.contains(":***@127.0.0.1"), "{shown}");

    let wrong = url.replace(&password, "not-the-password");
    let err = CompressedCache::builder()
        .shared(RedisTier::new(wrong))
        .build()
        .unwrap_err();
    assert!(matches!(err, CacheError::SharedTier { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("authentication") || msg.contains("WRONGPASS") || msg.contains("auth"),
        "{msg}"
    );
    assert!(!msg.contains("not-the-password"), "{msg}");
}

#[test]
fn a_value_damaged_in_redis_is_a_counted_miss() {
    let Some(url) = redis_url() else { return };
    let (p, _clean) = namespace(&url, "corrupt");
    let a = cache_on(None, tier(&url, &p).write_through(true));
    assert!(a.put_str("k1", &"one ".repeat(500)).unwrap().on_shared);
    assert!(a.put_str("k2", &"two ".repeat(500)).unwrap().on_shared);
    let mut con = raw(&url);
    let keys = keys_of(&mut con, &p);
    assert_eq!(keys.len(), 2, "{keys:?}");
    // Flip one byte near the end of the first value (its payload), as redis-cli SETRANGE would.
    let v: Vec<u8> = redis::cmd("GET").arg(&keys[0]).query(&mut con).unwrap();
    let at = v.len() - 3;
    let _: () = redis::cmd("SETRANGE")
        .arg(&keys[0])
        .arg(at)
        .arg(&[v[at] ^ 0x20][..])
        .query(&mut con)
        .unwrap();
    let b = cache_on(None, tier(&url, &p));
    let got = [b.get_string("k1").unwrap(), b.get_string("k2").unwrap()];
    let good = [got[0].is_some(), got[1].is_some()];
    assert_eq!(
        good.iter().filter(|g| **g).count(),
        1,
        "exactly one damaged"
    );
    for (g, want) in got.iter().zip(["one ", "two "]) {
        if let Some(g) = g {
            assert_eq!(g, &want.repeat(500));
        }
    }
    assert_eq!(shared(&b).corrupt, 1);

    // Another key's frame under this key's name (a swapped value) is a miss too.
    let other: Vec<u8> = redis::cmd("GET").arg(&keys[1]).query(&mut con).unwrap();
    let _: () = redis::cmd("SET")
        .arg(&keys[0])
        .arg(other)
        .query(&mut con)
        .unwrap();
    let c = cache_on(None, tier(&url, &p));
    let _ = c.get_string("k1").unwrap();
    let _ = c.get_string("k2").unwrap();
    let s = shared(&c);
    assert_eq!((s.hits, s.corrupt), (1, 1), "{s:?}");
    // Garbage and a huge value are misses too, and the huge one is never read whole.
    let _: () = redis::cmd("SET")
        .arg(&keys[0])
        .arg(vec![0x89u8; 3 << 20])
        .query(&mut con)
        .unwrap();
    assert_eq!(c.get_string("k1").unwrap(), None);
    assert!(shared(&c).bytes_read < (3 << 20), "{:?}", shared(&c));
}

#[test]
fn chunked_values_read_back_whole_or_not_at_all() {
    let Some(url) = redis_url() else { return };
    let (p, _clean) = namespace(&url, "chunks");
    let small_values = |t: RedisTier| t.max_value_bytes(4096);
    let a = cache_on(None, small_values(tier(&url, &p)).write_through(true));
    let big = noise(50_000, 7);
    let r = a.put_bytes("big", &big).unwrap();
    assert!(r.on_shared);
    assert_eq!(shared(&a).chunked_writes, 1);
    let mut con = raw(&url);
    assert_eq!(keys_of(&mut con, &p).len(), 1 + 50_100usize.div_ceil(4096));
    let b = cache_on(None, small_values(tier(&url, &p)));
    assert_eq!(b.get_bytes("big").unwrap(), Some(big.clone()));
    // A reader with the default (larger) value size reads chunks of any writer.
    let b2 = cache_on(None, tier(&url, &p));
    assert_eq!(b2.get_bytes("big").unwrap(), Some(big.clone()));

    // Overwriting replaces the chunks (the old version's are deleted in the same transaction).
    let big2 = noise(30_000, 9);
    a.put_bytes("big", &big2).unwrap();
    assert_eq!(keys_of(&mut con, &p).len(), 1 + 30_100usize.div_ceil(4096));
    let c = cache_on(None, tier(&url, &p));
    assert_eq!(c.get_bytes("big").unwrap(), Some(big2));

    // One chunk gone (evicted, expired): a miss, counted as torn.
    let chunk = keys_of(&mut con, &p)
        .into_iter()
        .find(|k| k.ends_with(":1"))
        .unwrap();
    let _: () = redis::cmd("DEL").arg(&chunk).query(&mut con).unwrap();
    let d = cache_on(None, tier(&url, &p));
    assert_eq!(d.get_bytes("big").unwrap(), None);
    let s = shared(&d);
    assert_eq!((s.torn, s.corrupt, s.hits), (1, 0, 0), "{s:?}");
}

/// Every byte of version `v` of the racing value says which version it is: a read mixing two
/// versions' chunks would show two numbers.
fn versioned(v: u8) -> Vec<u8> {
    vec![v; 40_000]
}

#[test]
fn concurrent_overwrites_never_mix_versions() {
    let Some(url) = redis_url() else { return };
    let (p, _clean) = namespace(&url, "race");
    // Stored raw (Codec::None), so that the frame really spans ten 4 KiB chunks.
    let none = PutOptions::new().compression(zcache::Codec::None);
    let writer = cache_on(
        None,
        tier(&url, &p).max_value_bytes(4096).write_through(true),
    );
    writer.put_with("racy", &versioned(0)[..], none).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (reads, torn) = std::thread::scope(|s| {
        s.spawn(|| {
            let mut v = 1u8;
            let until = Instant::now() + Duration::from_millis(700);
            while Instant::now() < until {
                writer.put_with("racy", &versioned(v)[..], none).unwrap();
                v = v.wrapping_add(1);
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        // A memory-less, disk-less reader asks Redis every time.
        let reader = CompressedCache::builder()
            .max_memory(0)
            .cleanup_interval(Duration::ZERO)
            .shared(tier(&url, &p))
            .build()
            .unwrap();
        let mut reads = 0u64;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            if let Some(v) = reader.get_bytes("racy").unwrap() {
                assert_eq!(v.len(), 40_000);
                assert!(v.iter().all(|b| *b == v[0]), "a read mixed two versions");
                reads += 1;
            }
        }
        (reads, shared(&reader).torn)
    });
    eprintln!("concurrent overwrites: {reads} whole reads, {torn} torn (misses)");
    assert!(reads > 0);
}

#[test]
fn ttl_maps_to_redis_expiry_and_namespaces_do_not_collide() {
    let Some(url) = redis_url() else { return };
    let (p1, _c1) = namespace(&url, "ns1");
    let (p2, _c2) = namespace(&url, "ns2");
    let a = cache_on(None, tier(&url, &p1).write_through(true));
    let b = cache_on(None, tier(&url, &p2).write_through(true));
    a.put_with(
        "k",
        "from a",
        PutOptions::new().ttl(Duration::from_secs(20)),
    )
    .unwrap();
    b.put_str("k", "from b").unwrap();
    a.put_with(
        "short",
        "gone soon",
        PutOptions::new().ttl(Duration::from_millis(300)),
    )
    .unwrap();
    let mut con = raw(&url);
    let ka = keys_of(&mut con, &p1);
    let kb = keys_of(&mut con, &p2);
    assert_eq!((ka.len(), kb.len()), (2, 1));
    for k in &ka {
        let pttl: i64 = redis::cmd("PTTL").arg(k).query(&mut con).unwrap();
        assert!(pttl > 0 && pttl <= 20_000, "{k}: {pttl}");
    }
    let pttl: i64 = redis::cmd("PTTL").arg(&kb[0]).query(&mut con).unwrap();
    assert_eq!(
        pttl, -1,
        "no TTL, no expiry: Redis' maxmemory policy decides"
    );
    let ra = cache_on(None, tier(&url, &p1));
    let rb = cache_on(None, tier(&url, &p2));
    assert_eq!(ra.get_string("k").unwrap().as_deref(), Some("from a"));
    assert_eq!(rb.get_string("k").unwrap().as_deref(), Some("from b"));
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(ra.get_string("short").unwrap(), None);
    assert_eq!(keys_of(&mut con, &p1).len(), 1, "Redis expired it");
}

/// A free loopback port (nothing listens on it once this returns).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_server_down_or_hung_never_blocks_a_get_beyond_its_timeout() {
    // Needs no Redis: nothing listens, then something that accepts and never answers.
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let timeout = Duration::from_millis(40);
    let down = RedisTier::new(format!("redis://:pw@127.0.0.1:{port}/0"))
        .timeout(timeout)
        .retry_after(Duration::from_millis(50));
    let cache = cache_on(Some(dir.path()), down.clone());
    cache.put_str("local", "still here").unwrap();
    for _ in 0..20 {
        let t = Instant::now();
        assert_eq!(cache.get_string("missing").unwrap(), None);
        assert!(t.elapsed() < timeout * 2, "{:?}", t.elapsed());
    }
    assert_eq!(
        cache.get_string("local").unwrap().as_deref(),
        Some("still here")
    );
    let s = shared(&cache);
    assert!(
        s.errors >= 1 && s.bypassed >= 1 && s.breaker_opened >= 1,
        "{s:?}"
    );

    // Hung: connections are accepted and never answered.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let hung_port = listener.local_addr().unwrap().port();
    let held = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        s.spawn(|| {
            listener.set_nonblocking(true).unwrap();
            let until = Instant::now() + Duration::from_secs(4);
            while Instant::now() < until {
                if let Ok((c, _)) = listener.accept() {
                    held.lock().unwrap().push(c);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        let hung = cache_on(
            None,
            RedisTier::new(format!("redis://127.0.0.1:{hung_port}/0"))
                .timeout(timeout)
                .retry_after(Duration::from_millis(30))
                .queue_bytes(16 << 10),
        );
        let mut worst = Duration::ZERO;
        let mut slow_puts = Duration::ZERO;
        for i in 0..40 {
            std::thread::sleep(Duration::from_millis(10));
            let t = Instant::now();
            assert_eq!(hung.get_string("missing").unwrap(), None);
            worst = worst.max(t.elapsed());
            let t = Instant::now();
            hung.put_bytes(&format!("w{i}"), &noise(4000, i)).unwrap();
            slow_puts = slow_puts.max(t.elapsed());
        }
        let st = shared(&hung);
        eprintln!(
            "hung server: worst get {worst:?} (timeout {timeout:?}), worst put {slow_puts:?}, {st:?}"
        );
        // The deadline: the timeout plus 1 MiB (the first reply's bound) at 100 MB/s, 10.5 ms;
        // the rest is scheduling slack on a busy machine.
        assert!(worst < timeout + Duration::from_millis(50), "{worst:?}");
        assert!(
            slow_puts < Duration::from_millis(20),
            "a put waited: {slow_puts:?}"
        );
        assert!(st.timeouts >= 1, "{st:?}");
        assert!(st.writes_dropped >= 1, "a full queue drops: {st:?}");
        drop(hung);
    });
}

/// A redis-server process, killed (SIGKILL, as a crash) and reaped when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A redis-server of this test's own (so that killing it disturbs no other test), persisting
/// to `dir` only when told to (`SAVE`).
fn start_server(server: &str, port: u16, dir: &Path, password: &str) -> Server {
    let mut child = Server(
        Command::new(server)
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let config = format!(
        "port {port}\nbind 127.0.0.1\nrequirepass {password}\nsave \"\"\nappendonly no\ndir {}\ndbfilename dump.rdb\n",
        dir.display()
    );
    child
        .0
        .stdin
        .take()
        .unwrap()
        .write_all(config.as_bytes())
        .unwrap();
    let url = format!("redis://:{password}@127.0.0.1:{port}/0");
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(client) = redis::Client::open(url.as_str())
            && let Ok(mut con) = client.get_connection_with_timeout(Duration::from_millis(200))
            && redis::cmd("PING").query::<String>(&mut con).is_ok()
        {
            return child;
        }
        assert!(Instant::now() < until, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_restart_mid_run_loses_no_persisted_entry_and_returns_no_wrong_one() {
    let Some(_) = redis_url() else { return };
    let server =
        std::env::var("MEMBOUND_TEST_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let password = "restart-test-pw";
    let url = format!("redis://:{password}@127.0.0.1:{port}/0");
    let srv = start_server(&server, port, data.path(), password);
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let fast = |t: RedisTier| {
        t.timeout(Duration::from_millis(100))
            .retry_after(Duration::from_millis(50))
    };
    let a = cache_on(Some(da.path()), fast(RedisTier::new(url.as_str())));
    let value = |i: u64| format!("entry {i} ").repeat(40 + (i as usize % 5));
    for i in 0..30 {
        a.put_str(&format!("k{i}"), &value(i)).unwrap();
    }
    assert!(a.sync_shared(Duration::from_secs(5)));
    let _: () = redis::cmd("SAVE").query(&mut raw(&url)).unwrap();
    // Written after the snapshot: lost by the kill, so misses after the restart.
    for i in 30..40 {
        a.put_str(&format!("k{i}"), &value(i)).unwrap();
    }
    assert!(a.sync_shared(Duration::from_secs(5)));
    drop(srv);

    // Down: puts and gets go on, locally; nothing is an error.
    let b = cache_on(Some(db.path()), fast(RedisTier::new(url.as_str())));
    for i in 40..50 {
        a.put_str(&format!("k{i}"), &value(i)).unwrap();
    }
    for i in 0..50 {
        assert_eq!(a.get_string(&format!("k{i}")).unwrap(), Some(value(i)));
        assert_eq!(b.get_string(&format!("k{i}")).unwrap(), None);
    }
    let down = shared(&b);
    assert!(down.errors + down.bypassed > 0, "{down:?}");

    let srv = start_server(&server, port, data.path(), password);
    std::thread::sleep(Duration::from_millis(300)); // past the breaker's wait
    let mut back = 0;
    for round in 0..3 {
        for i in 0..50u64 {
            match b.get_string(&format!("k{i}")).unwrap() {
                Some(v) => {
                    assert_eq!(v, value(i), "a wrong value for k{i}");
                    back += u64::from(round == 0);
                }
                None => assert!(
                    i >= 30 || round == 0,
                    "k{i} persisted before the kill, missing"
                ),
            }
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    let s = shared(&b);
    eprintln!("after the restart: {back} entries back in the first round, {s:?}");
    for i in 0..30u64 {
        assert_eq!(b.get_string(&format!("k{i}")).unwrap(), Some(value(i)));
    }
    drop(srv);
}
