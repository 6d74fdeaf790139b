//! The shared tier on the `redis` crate's synchronous client: a small connection pool, the
//! deadline of every request, the background writer, and the judgement of what Redis returns.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;
use redis::{Connection, ErrorKind, RedisError};

use super::breaker::{Breaker, Permit};
use super::manifest::{self, Manifest, ManifestError};
use super::{RedisTier, SharedCounters, SharedTierStats, redact_url};
use crate::disk::format::{self, HEADER_LEN, decode_file, encode_file, max_stored};
use crate::disk::key_hash;
use crate::entry::{Stored, now_ms};
use crate::error::CacheError;
use crate::stats::Counters;

/// Reads the chunks named in KEYS, each bounded by the length in the same place of ARGV, in
/// one atomic step with one reply (a transaction would be one reply per command, and the
/// client waits its read timeout once per reply when a server hangs).
const READ_CHUNKS: &str = "local r = {} \
for i, k in ipairs(KEYS) do r[i] = redis.call('GETRANGE', k, 0, tonumber(ARGV[i]) - 1) end \
return r";

/// Publishes a value in one atomic step: KEYS = head, then ARGV[2] chunk keys, then the keys
/// to delete (the chunks of the value replaced); ARGV = expiry in ms since the epoch ('0':
/// none), chunk count, head value, chunk values. Chunks are set before the head.
const WRITE_VALUE: &str = "local px = ARGV[1] \
local n = tonumber(ARGV[2]) \
local function set(k, v) if px == '0' then redis.call('SET', k, v) else redis.call('SET', k, v, 'PXAT', px) end end \
for i = 1, n do set(KEYS[i + 1], ARGV[i + 3]) end \
set(KEYS[1], ARGV[3]) \
for i = n + 2, #KEYS do redis.call('DEL', KEYS[i]) end \
return 1";

/// Idle connections kept for reuse.
const POOL_MAX: usize = 8;
/// Queue bytes charged per operation on top of its frame (key, bookkeeping).
const OP_OVERHEAD: u64 = 128;
/// How long `build()` waits for the first connection (a cold start may need a TLS handshake).
const OPEN_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a request to Redis failed.
#[derive(Debug)]
enum Fault {
    Timeout,
    Error {
        /// Scrubbed of the password.
        message: String,
        /// The connection broke (worth one retry on a fresh one if it was a pooled one).
        dropped: bool,
    },
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("timed out"),
            Self::Error { message, .. } => f.write_str(message),
        }
    }
}

/// What Redis held under a key, before the frame is judged.
enum Fetched {
    Absent,
    Frame(Vec<u8>),
    Refused(Refusal),
}

#[derive(Debug, Clone, Copy)]
enum Refusal {
    Corrupt(&'static str),
    TooLarge,
    Torn,
}

/// A request's deadline: its timeout plus the transfer time of what it moves.
struct Deadline(Instant);

impl Deadline {
    fn remaining(&self) -> Result<Duration, Fault> {
        let left = self.0.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(Fault::Timeout)
        } else {
            Ok(left)
        }
    }
}

enum OpKind {
    Put(Arc<Stored>),
    Remove,
}

/// One queued write.
struct Op {
    key: String,
    kind: OpKind,
    /// Bytes charged to the queue.
    charge: u64,
}

/// What the pool, the writer thread and the gets share.
struct Core {
    client: redis::Client,
    endpoint: String,
    /// The password (as given in the URL, and decoded), to scrub from error messages.
    secrets: Vec<String>,
    tier: RedisTier,
    /// The largest raw value the cache reads (its `max_entry_bytes`).
    max_raw: u64,
    pool: Mutex<Vec<Connection>>,
    breaker: Breaker,
    counters: SharedCounters,
    /// Keys with a queued write: a get does not ask Redis for them (it could get an older value).
    pending: Mutex<HashMap<String, u32>>,
    queued: AtomicU64,
    queued_bytes: AtomicU64,
    seq: AtomicU64,
    /// Replies the connection handshake waits for (AUTH, SELECT): the connect timeout is
    /// split between them, so that a hung server cannot make a connect outlast its deadline.
    handshake_replies: u32,
    version_seed: std::collections::hash_map::RandomState,
}

/// The shared tier of one cache: see the [module docs](super).
pub(crate) struct SharedTier {
    core: Arc<Core>,
    queue: Option<Sender<Op>>,
    writer: Option<JoinHandle<()>>,
}

impl fmt::Debug for SharedTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedTier")
            .field("endpoint", &self.core.endpoint)
            .field("prefix", &self.core.tier.prefix)
            .field("write_through", &self.core.tier.write_through)
            .finish_non_exhaustive()
    }
}

fn tier_error(endpoint: &str, reason: impl Into<String>) -> CacheError {
    CacheError::SharedTier {
        endpoint: endpoint.to_owned(),
        reason: reason.into(),
    }
}

impl SharedTier {
    /// Parses the URL and connects once: a refused password or database is an error here; a
    /// server that cannot be reached is not (the tier starts bypassed, and retries).
    pub(crate) fn open(tier: RedisTier, max_raw: u64) -> Result<Self, CacheError> {
        tier.validate()?;
        let endpoint = redact_url(&tier.url);
        let scheme = tier.url.split("://").next().unwrap_or("");
        if matches!(scheme, "rediss" | "valkeys") {
            #[cfg(not(feature = "redis-tls"))]
            return Err(CacheError::InvalidConfig(format!(
                "shared tier {endpoint}: TLS URLs need the `redis-tls` feature of mem-zcache"
            )));
            #[cfg(feature = "redis-tls")]
            {
                // The process-wide provider, unless the application installed one.
                let _ = rustls::crypto::ring::default_provider().install_default();
            }
        }
        let info = redis::IntoConnectionInfo::into_connection_info(tier.url.as_str())
            .map_err(|e| tier_error(&endpoint, format!("invalid URL: {}", e.category())))?;
        // No CLIENT SETINFO at connect: each extra handshake reply is one more read timeout
        // a hung server can make a connect wait.
        let settings = info.redis_settings().clone().set_skip_set_lib_name();
        let handshake_replies =
            u32::from(settings.password().is_some()) + u32::from(settings.db() != 0);
        let info = info.set_redis_settings(settings);
        let client = redis::Client::open(info)
            .map_err(|e| tier_error(&endpoint, format!("invalid URL: {}", e.category())))?;
        let mut secrets: Vec<String> = Vec::new();
        if let Some(pw) = client.get_connection_info().redis_settings().password() {
            secrets.push(pw.to_owned());
        }
        if let Some((_, rest)) = tier.url.split_once("://")
            && let Some((userinfo, _)) = rest.rsplit_once('@')
        {
            secrets.push(
                userinfo
                    .split_once(':')
                    .map_or(userinfo, |p| p.1)
                    .to_owned(),
            );
        }
        secrets.retain(|s| !s.is_empty());
        let core = Arc::new(Core {
            client,
            endpoint,
            secrets,
            breaker: Breaker::new(tier.retry_after),
            tier,
            max_raw,
            pool: Mutex::new(Vec::new()),
            counters: SharedCounters::default(),
            pending: Mutex::new(HashMap::new()),
            queued: AtomicU64::new(0),
            queued_bytes: AtomicU64::new(0),
            seq: AtomicU64::new(0),
            handshake_replies: handshake_replies.max(1),
            version_seed: std::collections::hash_map::RandomState::new(),
        });
        match core
            .client
            .get_connection_with_timeout(core.tier.timeout.max(OPEN_TIMEOUT))
        {
            Ok(con) => core.pool.lock().push(con),
            Err(e) if is_unreachable(&e) => {
                Counters::add(&core.counters.errors, u64::from(!e.is_timeout()));
                Counters::add(&core.counters.timeouts, u64::from(e.is_timeout()));
                core.breaker.trip();
                tracing::warn!(endpoint = %core.endpoint, error = %core.scrub(&e),
                    "shared tier unreachable; the cache works without it and retries");
            }
            Err(e) => {
                return Err(tier_error(&core.endpoint, core.scrub(&e)));
            }
        }
        let (queue, writer) = if core.tier.write_through {
            (None, None)
        } else {
            let (tx, rx) = crossbeam_channel::unbounded();
            let for_thread = Arc::clone(&core);
            let handle = std::thread::Builder::new()
                .name("zcache-shared".into())
                .spawn(move || write_loop(&for_thread, &rx))
                .map_err(CacheError::Spawn)?;
            (Some(tx), Some(handle))
        };
        tracing::debug!(endpoint = %core.endpoint, prefix = %core.tier.prefix, "zcache shared tier opened");
        Ok(Self {
            core,
            queue,
            writer,
        })
    }

    /// The entry under `key`, verified; `None` for anything else (counted by reason). Never
    /// waits longer than the request's deadline.
    pub(crate) fn get(&self, key: &str) -> Option<Stored> {
        let core = &*self.core;
        let c = &core.counters;
        let found = core.get(key);
        if found.is_some() {
            Counters::add(&c.hits, 1);
        } else {
            Counters::add(&c.misses, 1);
        }
        found
    }

    /// Sends `stored` to Redis: now with write-through (true when it got there), else through
    /// the queue (false; dropped and counted when the queue is full).
    pub(crate) fn put(&self, key: &str, stored: &Arc<Stored>) -> bool {
        let charge = stored.payload.len() as u64 + key.len() as u64 + OP_OVERHEAD;
        self.submit(Op {
            key: key.to_owned(),
            kind: OpKind::Put(Arc::clone(stored)),
            charge,
        })
    }

    /// Removes `key` from Redis (now with write-through, else queued).
    pub(crate) fn remove(&self, key: &str) {
        self.submit(Op {
            key: key.to_owned(),
            kind: OpKind::Remove,
            charge: key.len() as u64 + OP_OVERHEAD,
        });
    }

    fn submit(&self, op: Op) -> bool {
        let core = &*self.core;
        let Some(queue) = &self.queue else {
            return core.apply_now(&op);
        };
        let limit = core.tier.queue_bytes;
        let reserved = core
            .queued_bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                q.checked_add(op.charge).filter(|&n| n <= limit)
            })
            .is_ok();
        if !reserved {
            Counters::add(&core.counters.writes_dropped, 1);
            tracing::debug!(key = %op.key, "shared tier write queue full; write dropped");
            return false;
        }
        core.queued.fetch_add(1, Ordering::AcqRel);
        *core.pending.lock().entry(op.key.clone()).or_insert(0) += 1;
        if let Err(e) = queue.send(op) {
            // The writer is gone (never while the tier lives): undo the bookkeeping.
            core.finish(&e.0);
            Counters::add(&core.counters.writes_dropped, 1);
        }
        false
    }

    /// Waits until the queue is empty (true) or `timeout` passed (false).
    pub(crate) fn sync(&self, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        loop {
            if self.core.queued.load(Ordering::Acquire) == 0 {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    pub(crate) fn stats(&self) -> SharedTierStats {
        let core = &*self.core;
        let c = &core.counters;
        let (breaker_open, breaker_opened) = core.breaker.snapshot();
        SharedTierStats {
            endpoint: core.endpoint.clone(),
            prefix: core.tier.prefix.clone(),
            hits: Counters::get(&c.hits),
            misses: Counters::get(&c.misses),
            torn: Counters::get(&c.torn),
            corrupt: Counters::get(&c.corrupt),
            too_large: Counters::get(&c.too_large),
            unreadable: Counters::get(&c.unreadable),
            bypassed: Counters::get(&c.bypassed),
            errors: Counters::get(&c.errors),
            timeouts: Counters::get(&c.timeouts),
            breaker_opened,
            breaker_open,
            writes: Counters::get(&c.writes),
            removes: Counters::get(&c.removes),
            write_failures: Counters::get(&c.write_failures),
            writes_dropped: Counters::get(&c.writes_dropped),
            queued: core.queued.load(Ordering::Acquire),
            queued_bytes: core.queued_bytes.load(Ordering::Acquire),
            queue_limit_bytes: core.tier.queue_bytes,
            bytes_read: Counters::get(&c.bytes_read),
            bytes_written: Counters::get(&c.bytes_written),
            chunked_writes: Counters::get(&c.chunked_writes),
            write_through: core.tier.write_through,
        }
    }
}

impl Drop for SharedTier {
    fn drop(&mut self) {
        // Closing the queue lets the writer finish what is queued (each write bounded by its
        // deadline, all of them dropped at once if the breaker opens) and stop.
        self.queue = None;
        if let Some(h) = self.writer.take() {
            let _ = h.join();
        }
    }
}

fn write_loop(core: &Core, rx: &Receiver<Op>) {
    for op in rx {
        core.apply_now(&op);
        core.finish(&op);
    }
}

/// A server that did not answer (as opposed to one that refused what we asked).
fn is_unreachable(e: &RedisError) -> bool {
    e.kind() == ErrorKind::Io || e.is_timeout() || e.is_connection_refusal()
}

impl Core {
    fn scrub(&self, e: &RedisError) -> String {
        let mut msg = e.to_string();
        for s in &self.secrets {
            msg = msg.replace(s.as_str(), "***");
        }
        msg
    }

    fn fault(&self, e: &RedisError) -> Fault {
        if e.is_timeout() {
            Fault::Timeout
        } else {
            Fault::Error {
                message: self.scrub(e),
                dropped: e.is_connection_dropped() || e.kind() == ErrorKind::Io,
            }
        }
    }

    fn head_key(&self, key: &str) -> String {
        format!("{}:{:032x}", self.tier.prefix, key_hash(key))
    }

    fn chunk_key(head: &str, version: u64, i: u32) -> String {
        format!("{head}:{version:016x}:{i}")
    }

    /// The largest frame a value of this cache can be.
    fn max_frame(&self, key: &str) -> u64 {
        (HEADER_LEN + key.len()) as u64 + max_stored(self.max_raw)
    }

    fn deadline(&self, bytes: u64) -> Deadline {
        let transfer = Duration::from_secs_f64(bytes as f64 / self.tier.min_throughput as f64);
        Deadline(Instant::now() + self.tier.timeout + transfer)
    }

    /// Runs `f` on a connection under `deadline`: a pooled one if there is one (retried once
    /// on a fresh connection if it turns out to be broken, as after a server restart), else a
    /// new one. A connection that saw any fault is dropped, never reused.
    fn with_conn<T>(
        &self,
        deadline: &mut Deadline,
        mut f: impl FnMut(&mut Connection, &mut Deadline) -> Result<T, Fault>,
    ) -> Result<T, Fault> {
        let pooled = self.pool.lock().pop();
        let reused = pooled.is_some();
        let mut con = match pooled {
            Some(c) => c,
            None => self.connect(deadline)?,
        };
        let mut result = f(&mut con, deadline);
        if reused && matches!(result, Err(Fault::Error { dropped: true, .. })) {
            // Its siblings are most likely as stale (a restarted server): start afresh.
            self.pool.lock().clear();
            con = self.connect(deadline)?;
            result = f(&mut con, deadline);
        }
        if result.is_ok() {
            let mut pool = self.pool.lock();
            if pool.len() < POOL_MAX {
                pool.push(con);
            }
        }
        result
    }

    fn connect(&self, deadline: &Deadline) -> Result<Connection, Fault> {
        let left = deadline.remaining()? / self.handshake_replies;
        self.client
            .get_connection_with_timeout(left.max(Duration::from_millis(1)))
            .map_err(|e| self.fault(&e))
    }

    /// Runs one command (or transaction) with the socket's timeouts set to what is left.
    fn run<T>(
        &self,
        con: &mut Connection,
        deadline: &Deadline,
        f: impl FnOnce(&mut Connection) -> redis::RedisResult<T>,
    ) -> Result<T, Fault> {
        let left = deadline.remaining()?;
        con.set_read_timeout(Some(left))
            .and_then(|()| con.set_write_timeout(Some(left)))
            .map_err(|e| self.fault(&e))?;
        f(con).map_err(|e| self.fault(&e))
    }

    /// Records a request's outcome with the breaker and the counters.
    fn settle<T>(&self, result: Result<T, Fault>, write: bool) -> Option<T> {
        match result {
            Ok(v) => {
                self.breaker.success();
                Some(v)
            }
            Err(fault) => {
                let c = &self.counters;
                if write {
                    Counters::add(&c.write_failures, 1);
                }
                match &fault {
                    Fault::Timeout => Counters::add(&c.timeouts, 1),
                    Fault::Error { .. } => Counters::add(&c.errors, 1),
                }
                if self.breaker.failure() {
                    tracing::warn!(endpoint = %self.endpoint, fault = %fault,
                        "shared tier failing; bypassed for a while");
                } else {
                    tracing::debug!(endpoint = %self.endpoint, fault = %fault, "shared tier request failed");
                }
                None
            }
        }
    }

    fn get(&self, key: &str) -> Option<Stored> {
        let c = &self.counters;
        if self.pending.lock().contains_key(key) {
            Counters::add(&c.bypassed, 1);
            return None;
        }
        if self.breaker.permit() == Permit::Bypass {
            Counters::add(&c.bypassed, 1);
            return None;
        }
        // The head may be a whole frame of up to `max_value_bytes`.
        let mut deadline = self.deadline(self.tier.max_value_bytes);
        let fetched = self.with_conn(&mut deadline, |con, deadline| {
            self.fetch(con, deadline, key)
        });
        let bytes = match self.settle(fetched, false)? {
            Fetched::Absent => return None,
            Fetched::Frame(bytes) => bytes,
            Fetched::Refused(why) => {
                self.refused(key, why);
                return None;
            }
        };
        let stored = match decode_file(&bytes, self.max_raw) {
            Ok((header, _)) if header.key != key => {
                self.refused(key, Refusal::Corrupt("another key inside"));
                return None;
            }
            Ok((_, stored)) => stored,
            Err(CacheError::EntryTooLarge { .. }) => {
                self.refused(key, Refusal::TooLarge);
                return None;
            }
            Err(_) => {
                self.refused(key, Refusal::Corrupt("frame checksum or header"));
                return None;
            }
        };
        if stored.is_expired(now_ms()) {
            return None;
        }
        if let Err(e) = stored.codec.validate() {
            Counters::add(&c.unreadable, 1);
            tracing::debug!(key, error = %e, "shared value in a codec this build lacks: a miss");
            return None;
        }
        // Not on this machine's disk yet (whoever fills the local tiers decides).
        stored.clear_on_disk();
        Some(stored)
    }

    fn refused(&self, key: &str, why: Refusal) {
        let c = &self.counters;
        match why {
            Refusal::Corrupt(reason) => {
                Counters::add(&c.corrupt, 1);
                tracing::warn!(key, reason, endpoint = %self.endpoint, "damaged shared value: a miss");
            }
            Refusal::TooLarge => Counters::add(&c.too_large, 1),
            Refusal::Torn => {
                Counters::add(&c.torn, 1);
                tracing::debug!(key, "chunked shared value with a chunk missing: a miss");
            }
        }
    }

    /// Reads the head and, for a chunked value, all its chunks in one transaction. Every read
    /// is bounded: the head by `max_value_bytes` (+1 to see a larger one), the chunks by the
    /// lengths of a manifest that was checked against the cache's limits.
    fn fetch(
        &self,
        con: &mut Connection,
        deadline: &mut Deadline,
        key: &str,
    ) -> Result<Fetched, Fault> {
        let head_key = self.head_key(key);
        let limit = self.tier.max_value_bytes.max(manifest::LEN as u64);
        let head: Vec<u8> = self.run(con, deadline, |con| {
            redis::cmd("GETRANGE")
                .arg(&head_key)
                .arg(0)
                .arg(limit)
                .query(con)
        })?;
        Counters::add(&self.counters.bytes_read, head.len() as u64);
        if head.is_empty() {
            return Ok(Fetched::Absent);
        }
        if head.starts_with(&format::MAGIC) {
            return Ok(if head.len() as u64 > limit {
                Fetched::Refused(Refusal::TooLarge)
            } else {
                Fetched::Frame(head)
            });
        }
        let m = match Manifest::decode(&head, self.max_frame(key)) {
            Ok(m) if m.key_hash == key_hash(key) => m,
            Ok(_) => return Ok(Fetched::Refused(Refusal::Corrupt("another key's chunks"))),
            Err(ManifestError::TooLarge) => return Ok(Fetched::Refused(Refusal::TooLarge)),
            Err(ManifestError::Corrupt(why)) => return Ok(Fetched::Refused(Refusal::Corrupt(why))),
        };
        let transfer =
            Duration::from_secs_f64(m.frame_len as f64 / self.tier.min_throughput as f64);
        deadline.0 += transfer;
        let mut eval = redis::cmd("EVAL");
        eval.arg(READ_CHUNKS).arg(m.chunks);
        for i in 0..m.chunks {
            eval.arg(Self::chunk_key(&head_key, m.version, i));
        }
        for i in 0..m.chunks {
            eval.arg(m.chunk_size(i));
        }
        let parts: Vec<Vec<u8>> = self.run(con, deadline, |con| eval.query(con))?;
        let got: u64 = parts.iter().map(|p| p.len() as u64).sum();
        Counters::add(&self.counters.bytes_read, got);
        if parts.len() != m.chunks as usize {
            return Ok(Fetched::Refused(Refusal::Corrupt("chunk count")));
        }
        let mut frame = Vec::new();
        // Checked against the cache's limits by `Manifest::decode` above.
        if frame
            .try_reserve_exact(usize::try_from(m.frame_len).unwrap_or(usize::MAX))
            .is_err()
        {
            return Ok(Fetched::Refused(Refusal::TooLarge));
        }
        for (i, part) in (0u32..).zip(&parts) {
            if part.is_empty() {
                return Ok(Fetched::Refused(Refusal::Torn));
            }
            if part.len() as u64 != m.chunk_size(i) {
                return Ok(Fetched::Refused(Refusal::Corrupt("chunk length")));
            }
            frame.extend_from_slice(part);
        }
        if xxhash_rust::xxh3::xxh3_64(&frame) != m.frame_hash {
            return Ok(Fetched::Refused(Refusal::Corrupt("chunked frame checksum")));
        }
        Ok(Fetched::Frame(frame))
    }

    /// Applies one write now, if the breaker allows; counts the outcome. True when done.
    fn apply_now(&self, op: &Op) -> bool {
        if self.breaker.permit() == Permit::Bypass {
            Counters::add(&self.counters.writes_dropped, 1);
            return false;
        }
        let result = match &op.kind {
            OpKind::Put(stored) => {
                if stored.is_expired(now_ms()) {
                    self.breaker.success();
                    return false;
                }
                let frame = encode_file(&op.key, stored);
                let mut deadline = self.deadline(frame.len() as u64);
                self.with_conn(&mut deadline, |con, deadline| {
                    self.write(con, deadline, &op.key, &frame, stored.expires_ms)
                })
                .map(|()| {
                    let c = &self.counters;
                    Counters::add(&c.writes, 1);
                    Counters::add(&c.bytes_written, frame.len() as u64);
                })
            }
            OpKind::Remove => {
                let mut deadline = self.deadline(0);
                self.with_conn(&mut deadline, |con, deadline| {
                    self.delete(con, deadline, &op.key)
                })
                .map(|()| Counters::add(&self.counters.removes, 1))
            }
        };
        self.settle(result, true).is_some()
    }

    /// Releases a queued operation's reservation.
    fn finish(&self, op: &Op) {
        let _ = self
            .queued_bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                Some(q.saturating_sub(op.charge))
            });
        let _ = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                Some(q.saturating_sub(1))
            });
        let mut pending = self.pending.lock();
        if let Some(n) = pending.get_mut(&op.key) {
            *n -= 1;
            if *n == 0 {
                pending.remove(&op.key);
            }
        }
    }

    /// The chunk keys of the value now under `head_key`, if it is chunked.
    fn old_chunks(
        &self,
        con: &mut Connection,
        deadline: &Deadline,
        head_key: &str,
    ) -> Result<Vec<String>, Fault> {
        let head: Vec<u8> = self.run(con, deadline, |con| {
            redis::cmd("GETRANGE")
                .arg(head_key)
                .arg(0)
                .arg(manifest::LEN - 1)
                .query(con)
        })?;
        Ok(match Manifest::decode(&head, u64::MAX) {
            Ok(m) => (0..m.chunks)
                .map(|i| Self::chunk_key(head_key, m.version, i))
                .collect(),
            Err(_) => Vec::new(),
        })
    }

    /// A fresh chunk version: unique in this process (a counter) and across processes (a
    /// per-process random key from the standard library's hasher seed).
    fn next_version(&self) -> u64 {
        use std::hash::{BuildHasher, Hasher};
        let mut h = self.version_seed.build_hasher();
        h.write_u64(self.seq.fetch_add(1, Ordering::Relaxed));
        h.write_u64(now_ms());
        h.finish()
    }

    /// Writes a frame: alone under the head key, or as chunks then the manifest, in one
    /// transaction that also deletes the chunks of the value it replaces.
    fn write(
        &self,
        con: &mut Connection,
        deadline: &mut Deadline,
        key: &str,
        frame: &[u8],
        expires_ms: u64,
    ) -> Result<(), Fault> {
        let head_key = self.head_key(key);
        let old = self.old_chunks(con, deadline, &head_key)?;
        let chunk = self.tier.max_value_bytes;
        let mut keys = vec![head_key.clone()];
        let mut values: Vec<&[u8]> = Vec::new();
        let manifest;
        if frame.len() as u64 <= chunk {
            values.push(frame);
        } else {
            let version = self.next_version();
            let m = Manifest::for_frame(frame, chunk, version, key_hash(key));
            manifest = m.encode();
            values.push(&manifest);
            let step = usize::try_from(chunk).unwrap_or(usize::MAX);
            for (i, part) in (0u32..).zip(frame.chunks(step)) {
                keys.push(Self::chunk_key(&head_key, version, i));
                values.push(part);
            }
            Counters::add(&self.counters.chunked_writes, 1);
        }
        let chunks = keys.len() - 1;
        keys.extend(old);
        let mut eval = redis::cmd("EVAL");
        eval.arg(WRITE_VALUE)
            .arg(keys.len())
            .arg(&keys)
            .arg(expires_ms.to_string())
            .arg(chunks);
        for v in values {
            eval.arg(v);
        }
        self.run(con, deadline, |con| eval.query::<()>(con))
    }

    /// Deletes the head key and the chunks it names.
    fn delete(
        &self,
        con: &mut Connection,
        deadline: &mut Deadline,
        key: &str,
    ) -> Result<(), Fault> {
        let head_key = self.head_key(key);
        let mut keys = self.old_chunks(con, deadline, &head_key)?;
        keys.push(head_key);
        self.run(con, deadline, |con| {
            redis::cmd("DEL").arg(&keys).query::<()>(con)
        })
    }
}
