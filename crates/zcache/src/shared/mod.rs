//! The shared tier: a Redis (or Valkey) server that several caches, on one machine or many,
//! read and fill after their own memory and disk tiers.
//!
//! Values travel in the disk tier's frame (header, key, checksummed compressed payload, see
//! [`crate::disk::format`]), so the network carries compressed bytes and a reader trusts
//! nothing it did not verify: a frame that fails a checksum, holds another key, declares more
//! than the cache reads or needs a codec this build lacks is a counted miss, never a value.
//! Frames above [`RedisTier::max_value_bytes`] are split into chunks named by a per-write
//! version and published by one `MULTI`/`EXEC` that also sets the head key last (see
//! [`manifest`]): a reader gets all the chunks of one version, or a miss.
//!
//! Faults never reach the caller: every request has a deadline ([`RedisTier::timeout`] plus the
//! transfer time at [`RedisTier::min_throughput`]), failures open a circuit breaker that
//! bypasses Redis and retries with backoff, and writes go through a bounded background queue
//! (or, with [`RedisTier::write_through`], on the caller's thread under the same deadline).
//!
//! The tier is compiled in with the `redis` feature (`rediss://` with `redis-tls`). Without
//! it, [`RedisTier`] still exists, and a cache built with one fails with
//! [`CacheError::InvalidConfig`] naming the feature, as a compiled-out codec does.

mod breaker;
pub(crate) mod manifest;
#[cfg(feature = "redis")]
mod tier;

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::CacheError;

#[cfg(feature = "redis")]
pub(crate) use tier::SharedTier;

/// Without the `redis` feature no shared tier can exist: an uninhabited stand-in keeps the
/// cache's code free of feature gates.
#[cfg(not(feature = "redis"))]
#[derive(Debug)]
pub(crate) enum SharedTier {}

#[cfg(not(feature = "redis"))]
impl SharedTier {
    pub(crate) fn open(tier: RedisTier, _max_raw: u64) -> Result<Self, CacheError> {
        Err(CacheError::InvalidConfig(format!(
            "the shared tier ({}) needs the `redis` feature of mem-zcache",
            redact_url(&tier.url)
        )))
    }
    pub(crate) fn get(&self, _key: &str) -> Option<crate::entry::Stored> {
        match *self {}
    }
    pub(crate) fn put(&self, _key: &str, _stored: &std::sync::Arc<crate::entry::Stored>) -> bool {
        match *self {}
    }
    pub(crate) fn remove(&self, _key: &str) {
        match *self {}
    }
    pub(crate) fn sync(&self, _timeout: Duration) -> bool {
        match *self {}
    }
    pub(crate) fn stats(&self) -> SharedTierStats {
        match *self {}
    }
}

/// Default [`RedisTier::prefix`].
pub const DEFAULT_PREFIX: &str = "zcache";

/// The settings of a shared tier on Redis or Valkey, handed to
/// [`CacheBuilder::shared`](crate::CacheBuilder::shared) and checked by its `build()`.
///
/// ```
/// use std::time::Duration;
/// use zcache::{MIB, RedisTier};
///
/// let tier = RedisTier::new("redis://analyst:s3cret@127.0.0.1:6379/0")
///     .prefix("team-embeddings:v1")
///     .timeout(Duration::from_millis(50))
///     .max_value_bytes(MIB)
///     .queue_bytes(64 * MIB);
/// assert!(!format!("{tier:?}").contains("s3cret"));
/// ```
///
/// URLs: `redis://[user][:password@]host[:port][/db]`, `rediss://...` (TLS, the `redis-tls`
/// feature), `valkey://`, `valkeys://`, `unix:///path/to.sock`. The password never appears in
/// logs, errors, stats or `Debug` output (it shows as `***`).
///
/// Redis keeps the memory budget: give the server a `maxmemory` and
/// `maxmemory-policy allkeys-lru` (or `allkeys-lfu`), so that it evicts the least used entries
/// instead of refusing writes. An evicted chunk makes its value a miss, never a wrong value.
/// Entries with a TTL expire in Redis at the same instant (`PXAT`).
#[derive(Clone)]
#[must_use]
pub struct RedisTier {
    pub(crate) url: String,
    pub(crate) prefix: String,
    pub(crate) timeout: Duration,
    pub(crate) min_throughput: u64,
    pub(crate) max_value_bytes: u64,
    pub(crate) queue_bytes: u64,
    pub(crate) write_through: bool,
    pub(crate) retry_after: Duration,
}

impl fmt::Debug for RedisTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTier")
            .field("url", &redact_url(&self.url))
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("min_throughput", &self.min_throughput)
            .field("max_value_bytes", &self.max_value_bytes)
            .field("queue_bytes", &self.queue_bytes)
            .field("write_through", &self.write_through)
            .field("retry_after", &self.retry_after)
            .finish()
    }
}

impl From<&str> for RedisTier {
    fn from(url: &str) -> Self {
        Self::new(url)
    }
}

impl From<String> for RedisTier {
    fn from(url: String) -> Self {
        Self::new(url)
    }
}

impl RedisTier {
    /// A tier on the server at `url` with the defaults: prefix `zcache`, 50 ms timeout, 100 MB/s
    /// minimum throughput, 1 MiB values (larger ones are chunked), a 64 MiB background write
    /// queue, first retry after 1 s. Nothing is parsed or connected before `build()`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: Duration::from_millis(50),
            min_throughput: 100 * 1_000_000,
            max_value_bytes: mem_monitor::MIB,
            queue_bytes: 64 * mem_monitor::MIB,
            write_through: false,
            retry_after: Duration::from_secs(1),
        }
    }

    /// The namespace of this cache's keys (default `zcache`): every Redis key is
    /// `PREFIX:<xxh3-128 of the key>` (plus `:<version>:<n>` for chunks), so several caches and
    /// versions share one server without colliding. 1-200 printable ASCII characters, no space.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long one request may take, connecting included (default 50 ms); a request moving
    /// `n` bytes gets `n / min_throughput` more (a get: `max_value_bytes` for its first reply,
    /// plus the value's size when it is chunked). A get never waits longer: past it the get is
    /// a miss (counted as a timeout) and the connection is dropped.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The slowest transfer rate still considered healthy, in bytes per second (default
    /// 100 MB/s): what a large value adds to its request's deadline.
    pub fn min_throughput(mut self, bytes_per_second: u64) -> Self {
        self.min_throughput = bytes_per_second;
        self
    }

    /// The largest Redis value written, in bytes (default 1 MiB, at least 4 KiB): a larger
    /// frame is split into chunks of this size, read back all from one version or not at all.
    /// Also the most a reader asks for in one value, so a value stored by anyone else never
    /// makes it allocate more.
    pub fn max_value_bytes(mut self, bytes: u64) -> Self {
        self.max_value_bytes = bytes;
        self
    }

    /// Bytes of frames the background write queue may hold (default 64 MiB). A write that
    /// does not fit is dropped and counted (`writes_dropped`), never waited for. 0 is allowed
    /// only with [`write_through`](Self::write_through).
    pub fn queue_bytes(mut self, bytes: u64) -> Self {
        self.queue_bytes = bytes;
        self
    }

    /// Writes to Redis on the caller's thread before `put` returns (default false: a
    /// background thread writes them). Still bounded by the timeout, and still never an error:
    /// [`PutReport::on_shared`](crate::PutReport::on_shared) tells whether it got there.
    pub fn write_through(mut self, on: bool) -> Self {
        self.write_through = on;
        self
    }

    /// How long the circuit breaker bypasses Redis after it opens (default 1 s); the wait
    /// doubles (with jitter) after each failed retry, up to 32 times this, and resets on
    /// success.
    pub fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = wait;
        self
    }

    /// The URL with its password replaced by `***`.
    #[must_use]
    pub fn endpoint(&self) -> String {
        redact_url(&self.url)
    }

    /// Checks every setting (not the URL's syntax: the client parses it when the tier opens).
    pub(crate) fn validate(&self) -> Result<(), CacheError> {
        let bad = |what: String| {
            Err(CacheError::InvalidConfig(format!(
                "shared tier {}: {what}",
                redact_url(&self.url)
            )))
        };
        if self.url.trim().is_empty() {
            return bad("the URL is empty".into());
        }
        if self.prefix.is_empty()
            || self.prefix.len() > 200
            || !self.prefix.bytes().all(|b| b.is_ascii_graphic())
        {
            return bad(format!(
                "prefix {:?} must be 1-200 printable ASCII characters without spaces",
                self.prefix.chars().take(64).collect::<String>()
            ));
        }
        if self.timeout.is_zero() {
            return bad("timeout must be above 0".into());
        }
        if self.min_throughput == 0 {
            return bad("min_throughput must be above 0".into());
        }
        if self.max_value_bytes < 4 * mem_monitor::KIB {
            return bad(format!(
                "max_value_bytes {} is below 4096",
                self.max_value_bytes
            ));
        }
        if self.queue_bytes == 0 && !self.write_through {
            return bad("queue_bytes 0 needs write_through".into());
        }
        if self.retry_after.is_zero() {
            return bad("retry_after must be above 0".into());
        }
        Ok(())
    }
}

/// `url` with the password (or a lone user-info, which Redis takes as a password) replaced by
/// `***`. Works on malformed URLs too: everything between `://` and the last `@` of the
/// authority is user-info.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return if url.contains('@') {
            "***".to_owned()
        } else {
            url.to_owned()
        };
    };
    let rest = &url[scheme_end + 3..];
    let Some(at) = rest.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &rest[..at];
    let shown = match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:***"),
        None => "***".to_owned(),
    };
    format!("{}://{shown}@{}", &url[..scheme_end], &rest[at + 1..])
}

/// The shared tier's counters and settings (serde: part of `membound cache stats`). Every
/// fault is counted here and nowhere else: none reaches a caller.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SharedTierStats {
    /// The server's URL, password replaced by `***`.
    pub endpoint: String,
    /// The key namespace.
    pub prefix: String,
    /// Gets answered by the shared tier (the local tiers were filled from it).
    pub hits: u64,
    /// Gets the shared tier was asked and had nothing for (absent, expired, or a chunk gone).
    pub misses: u64,
    /// Of the misses: chunked values with a chunk missing (evicted, expired, or replaced
    /// during the read).
    pub torn: u64,
    /// Values refused as damaged: a checksum failed, another key inside, a malformed frame or
    /// chunk header. Counted as misses.
    pub corrupt: u64,
    /// Values refused because they declare more than this cache reads (`max_entry_bytes`,
    /// `max_value_bytes`). Counted as misses.
    pub too_large: u64,
    /// Values in a codec this build lacks (another build may read them). Counted as misses.
    pub unreadable: u64,
    /// Gets not sent because the circuit breaker was open (or a write of the key was still
    /// queued). Counted as misses.
    pub bypassed: u64,
    /// Requests that failed (connection refused or reset, protocol or server error).
    pub errors: u64,
    /// Requests that ran out of time.
    pub timeouts: u64,
    /// Times the circuit breaker opened.
    pub breaker_opened: u64,
    /// True while the breaker bypasses Redis.
    pub breaker_open: bool,
    /// Values written (puts acknowledged by Redis).
    pub writes: u64,
    /// Removals written.
    pub removes: u64,
    /// Writes and removals that failed or timed out (also in `errors`/`timeouts`).
    pub write_failures: u64,
    /// Writes dropped: the queue was full, or the breaker was open when their turn came.
    pub writes_dropped: u64,
    /// Operations waiting in the background queue.
    pub queued: u64,
    /// Bytes of frames waiting in the background queue.
    pub queued_bytes: u64,
    /// The queue's budget in bytes.
    pub queue_limit_bytes: u64,
    /// Value bytes received from Redis (compressed frames).
    pub bytes_read: u64,
    /// Value bytes sent to Redis (compressed frames).
    pub bytes_written: u64,
    /// Values written in chunks.
    pub chunked_writes: u64,
    /// True when puts write to Redis before returning.
    pub write_through: bool,
}

/// Live counters of the shared tier.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
#[derive(Debug, Default)]
pub(crate) struct SharedCounters {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub torn: AtomicU64,
    pub corrupt: AtomicU64,
    pub too_large: AtomicU64,
    pub unreadable: AtomicU64,
    pub bypassed: AtomicU64,
    pub errors: AtomicU64,
    pub timeouts: AtomicU64,
    pub writes: AtomicU64,
    pub removes: AtomicU64,
    pub write_failures: AtomicU64,
    pub writes_dropped: AtomicU64,
    pub bytes_read: AtomicU64,
    pub bytes_written: AtomicU64,
    pub chunked_writes: AtomicU64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        for (url, shown) in [
            (
                "redis://user:pw@127.0.0.1:6379/0",
                "redis://user:***@127.0.0.1:6379/0",
            ),
            ("redis://:pw@127.0.0.1:1/2", "redis://:***@127.0.0.1:1/2"),
            ("rediss://pw@host", "rediss://***@host"),
            ("redis://u:p@ss:w@rd@h:1", "redis://u:***@h:1"),
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
            ("garbage:pw@x", "***"),
        ] {
            assert_eq!(redact_url(url), shown);
        }
        let tier = RedisTier::new("redis://u:hunter2@127.0.0.1:1/0");
        assert!(!format!("{tier:?}").contains("hunter2"));
        let err = RedisTier::new("redis://u:hunter2@127.0.0.1:1/0")
            .timeout(Duration::ZERO)
            .validate()
            .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn rejects_bad_settings() {
        let base = || RedisTier::new("redis://127.0.0.1:1");
        for t in [
            RedisTier::new(" "),
            base().prefix(""),
            base().prefix("has space"),
            base().timeout(Duration::ZERO),
            base().min_throughput(0),
            base().max_value_bytes(100),
            base().queue_bytes(0),
            base().retry_after(Duration::ZERO),
        ] {
            assert!(matches!(t.validate(), Err(CacheError::InvalidConfig(_))));
        }
        assert!(base().queue_bytes(0).write_through(true).validate().is_ok());
        assert!(base().prefix("team:v2").validate().is_ok());
    }
}
