//! Compression that follows temperature: a background thread recompresses the entries that
//! stay cold with zstd at a higher level (with a trained dictionary once its family has one),
//! and gives an entry that turns hot again its fast codec back, once.
//!
//! - New entries are stored with the fast codec (`Auto`: lz4 for text and serialized values).
//! - Each memory-tier hit bumps the entry's `heat` (a relaxed load, and a store only until
//!   [`HOT`]); each pass reads and resets it, so "hot" means [`HOT`] hits between two passes.
//! - A pass looks at the entries put under `Auto` at least `cold_after` ago: a cold one is
//!   recompressed (kept only if it saves 1/32), a hot one is left alone; a recompressed entry
//!   found hot again is restored to the fast codec and never recompressed again. An entry put
//!   with its family's dictionary at the put level ([`PUT_DICT_LEVEL`]) that stays cold is
//!   raised to the cold level once. So an entry is re-encoded at most three times, and never on
//!   the hit path.
//! - Bounded: one thread, at most `duty` of one core (each pass is followed by a pause of
//!   `spent * (1 - duty) / duty`), passes of at most [`SLICE`]; dictionary samples at most
//!   [`SAMPLE_BYTES`] per family and [`MAX_FAMILIES`] families. The thread holds only a
//!   `Weak` reference and is stopped and joined when the cache is dropped.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};

use crate::cache::Inner;
use crate::codec::Codec;
use crate::dict::Dict;
use crate::entry::{AUTO, COLD, HOT, ON_DISK, SETTLED, Stored, encode, now_ms};
use crate::error::CacheError;
use crate::value::ValueKind;

/// A recompressed copy is kept if it saves at least `1 / 2^KEEP_SHIFT` of the payload (3 %:
/// the cold level with the same dictionary saves about 6 % over the put level).
const KEEP_SHIFT: u32 = 5;
/// Longest a single pass runs before it pauses.
const SLICE: Duration = Duration::from_millis(50);
/// Shortest pause between passes.
const MIN_PAUSE: Duration = Duration::from_millis(5);
/// Values below this many bytes are left as they are (`Auto` stores them raw anyway).
const MIN_VALUE: u64 = 64;
/// Below this many bytes a value waits for its family's dictionary (while one is being
/// sampled for) instead of being recompressed without one: small values gain most from it.
const WAIT_FOR_DICT: usize = 4096;
/// Bytes of samples kept per family for training.
const SAMPLE_BYTES: usize = 1 << 20;
/// Samples kept per family.
const MAX_SAMPLES: usize = 2048;
/// Bytes of one sample (longer values contribute their start).
const SAMPLE_PREFIX: usize = 16 << 10;
/// Families sampled or with a dictionary.
const MAX_FAMILIES: usize = 16;
/// Largest dictionary trained.
#[cfg_attr(not(feature = "zstd"), allow(dead_code))] // used by zstd dictionaries only
const DICT_SIZE: usize = 64 << 10;

/// The background recompression settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Settings {
    pub enabled: bool,
    pub dictionaries: bool,
    /// Age before an entry can count as cold.
    pub cold_after: Duration,
    /// zstd level of cold entries.
    pub level: i32,
    /// Fraction of one core the thread may use.
    pub duty: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            enabled: cfg!(feature = "zstd"),
            dictionaries: cfg!(feature = "zstd"),
            cold_after: Duration::from_millis(100),
            level: COLD_LEVEL,
            duty: 0.5,
        }
    }
}

/// The zstd level of cold entries.
pub(crate) const COLD_LEVEL: i32 = 6;

/// Handle on the thread: dropping it stops and joins the thread.
#[derive(Debug)]
pub(crate) struct Recompressor {
    stop: Option<Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl Recompressor {
    /// Starts the thread when enabled.
    pub(crate) fn spawn(inner: &Arc<Inner>) -> Result<Option<Self>, CacheError> {
        let settings = inner.config.recompress;
        if !settings.enabled || inner.config.max_memory_bytes == 0 {
            return Ok(None);
        }
        let weak = Arc::downgrade(inner);
        let (tx, rx) = crossbeam_channel::bounded(1);
        let handle = std::thread::Builder::new()
            .name("zcache-recompress".into())
            .spawn(move || run(&weak, &rx, settings))
            .map_err(CacheError::Spawn)?;
        Ok(Some(Self {
            stop: Some(tx),
            handle: Some(handle),
        }))
    }
}

impl Drop for Recompressor {
    fn drop(&mut self) {
        self.stop = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn run(weak: &Weak<Inner>, rx: &Receiver<()>, settings: Settings) {
    let duty = settings.duty.clamp(0.01, 1.0);
    let mut state = State::default();
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let started = Instant::now();
        let stopped = inner.recompress_pass(&mut state, &settings, rx);
        drop(inner);
        if stopped {
            return;
        }
        let pause = started
            .elapsed()
            .mul_f64((1.0 - duty) / duty)
            .max(MIN_PAUSE);
        match rx.recv_timeout(pause) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// The family of a value for dictionaries: its kind and its key's prefix (up to the first
/// `:` or `/`, at most 32 bytes).
pub(crate) fn family_of(key: &str, kind: ValueKind) -> String {
    let end = key
        .char_indices()
        .find(|&(i, c)| c == ':' || c == '/' || i >= 32)
        .map_or(key.len(), |(i, _)| i);
    let prefix = key.get(..end).unwrap_or_default();
    match kind {
        ValueKind::Serde(h) => format!("serde:{h:016x}|{prefix}"),
        other => format!("{other}|{prefix}"),
    }
}

/// One family's samples and dictionary quality.
#[derive(Debug, Default)]
struct Family {
    samples: Vec<Vec<u8>>,
    bytes: usize,
    /// Ratio the current dictionary reached on its own training samples.
    trained_ratio: f64,
    /// Moving ratio of the recompressions with the current dictionary.
    recent_ratio: f64,
    uses: u32,
    /// Training attempts that gave nothing (stops after 3).
    failures: u32,
    /// Sampling again to retrain (the ratio drifted).
    retraining: bool,
}

/// The recompression thread's own state.
#[derive(Default)]
pub(crate) struct State {
    families: HashMap<String, Family>,
    /// Dictionaries trained (retrains included).
    #[cfg_attr(not(feature = "zstd"), allow(dead_code))] // used by zstd dictionaries only
    pub trained: u64,
}

impl State {
    /// Keeps a sample of `raw` for `family` while it needs one; trains when it has enough.
    fn sample(&mut self, inner: &Inner, family: &str, raw: &[u8], has_dict: bool) {
        if !self.families.contains_key(family) && self.families.len() >= MAX_FAMILIES {
            return;
        }
        let f = self.families.entry(family.to_owned()).or_default();
        if (has_dict && !f.retraining) || f.failures >= 3 {
            return;
        }
        if f.samples.len() < MAX_SAMPLES && f.bytes < SAMPLE_BYTES {
            let s = raw.get(..raw.len().min(SAMPLE_PREFIX)).unwrap_or(raw);
            f.bytes += s.len();
            f.samples.push(s.to_vec());
        }
        let enough = (f.samples.len() >= 256 && f.bytes >= 64 << 10)
            || f.samples.len() >= MAX_SAMPLES
            || f.bytes >= SAMPLE_BYTES;
        if enough {
            self.train(inner, family);
        }
    }

    /// Whether a dictionary may still come for `family` (sampling, not given up).
    fn may_train(&self, family: &str) -> bool {
        self.families.get(family).is_some_and(|f| f.failures < 3)
    }

    #[cfg(feature = "zstd")]
    fn train(&mut self, inner: &Inner, family: &str) {
        let Some(f) = self.families.get_mut(family) else {
            return;
        };
        let size = (f.bytes / 8).clamp(4 << 10, DICT_SIZE);
        let samples = std::mem::take(&mut f.samples);
        f.bytes = 0;
        let installed =
            crate::dict::train(&samples, size).and_then(|bytes| inner.dicts.install(family, bytes));
        let Some(dict) = installed else {
            f.failures += 1;
            return;
        };
        // What the dictionary does on the samples it learnt from: the ratio it should keep.
        let (mut raw, mut packed) = (0usize, 0usize);
        if let Some(c) = crate::dict::compressor(&dict, inner.config.recompress.level) {
            let mut c = c;
            for s in samples.iter().take(64) {
                if let Ok(p) = c.compress(s) {
                    raw += s.len();
                    packed += p.len();
                }
            }
        }
        f.trained_ratio = if raw == 0 {
            1.0
        } else {
            packed as f64 / raw as f64
        };
        f.recent_ratio = f.trained_ratio;
        f.uses = 0;
        f.retraining = false;
        self.trained += 1;
        tracing::debug!(
            family,
            id = dict.id,
            size = dict.bytes.len(),
            ratio = f.trained_ratio,
            "zcache trained a dictionary"
        );
    }

    #[cfg(not(feature = "zstd"))]
    fn train(&mut self, _inner: &Inner, _family: &str) {}

    /// Notes the ratio of one recompression with the family's dictionary; asks for samples to
    /// retrain when it drifted 25 % above what the dictionary did on its training samples.
    fn note(&mut self, family: &str, raw: usize, packed: usize) {
        let Some(f) = self.families.get_mut(family) else {
            return;
        };
        let r = packed as f64 / raw.max(1) as f64;
        f.recent_ratio = 0.98 * f.recent_ratio + 0.02 * r;
        f.uses = f.uses.saturating_add(1);
        if !f.retraining && f.uses > 500 && f.recent_ratio > f.trained_ratio * 1.25 + 0.01 {
            tracing::debug!(
                family,
                trained = f.trained_ratio,
                recent = f.recent_ratio,
                "zcache dictionary drifted: retraining"
            );
            f.retraining = true;
            f.uses = 0;
        }
    }

    /// Compresses a cold value: with the family's dictionary when there is one, else plain
    /// zstd at the cold level. Returns the codec, payload and dictionary id (0: none).
    fn compress(
        &self,
        dict: Option<&Arc<Dict>>,
        level: i32,
        raw: &[u8],
    ) -> Option<(Codec, Vec<u8>, u32)> {
        if let Some(d) = dict {
            return crate::dict::compress_with(d, level, raw)
                .map(|p| (Codec::Zstd(level), p, d.id));
        }
        let codec = Codec::Zstd(level);
        codec.compress(raw).ok().map(|p| (codec, p, 0))
    }
}

/// zstd level of a value compressed with its family's dictionary at put time: as fast to
/// write as lz4 is to decode a few times, and within 6 % of the cold level's ratio.
pub(crate) const PUT_DICT_LEVEL: i32 = 3;

impl Inner {
    /// A value put under `Auto` when its family already has a dictionary is compressed with it
    /// at once ([`PUT_DICT_LEVEL`]) instead of waiting for the background pass: it weighs its
    /// cold size from the start. Marked [`COLD`], so that it turns fast again if it is hot.
    /// Not with a shared tier, whose other caches lack the dictionary.
    /// Returns the codec, payload, dictionary id and flags to store (`fast` when no
    /// dictionary applies or it does not save 1/16 of `fast`'s payload).
    pub(crate) fn put_with_dict(
        &self,
        key: &str,
        kind: ValueKind,
        raw: &[u8],
        fast: (Codec, Vec<u8>),
    ) -> (Codec, Vec<u8>, u32, u8) {
        let settings = &self.config.recompress;
        // The shared tier's other caches do not have this cache's dictionaries.
        if !settings.enabled
            || !settings.dictionaries
            || self.shared.is_some()
            || (raw.len() as u64) < MIN_VALUE
            || matches!(kind, ValueKind::Numeric(_))
        {
            return (fast.0, fast.1, 0, AUTO);
        }
        let Some(dict) = self.dicts.current(&family_of(key, kind)) else {
            return (fast.0, fast.1, 0, AUTO);
        };
        match crate::dict::compress_with(&dict, PUT_DICT_LEVEL, raw) {
            Some(p) if p.len() + (fast.1.len() >> 4) <= fast.1.len() => {
                (Codec::Zstd(PUT_DICT_LEVEL), p, dict.id, AUTO | COLD)
            }
            _ => (fast.0, fast.1, 0, AUTO),
        }
    }

    /// One pass over the memory tier (see the module docs). True when the cache is being
    /// dropped.
    pub(crate) fn recompress_pass(
        &self,
        state: &mut State,
        settings: &Settings,
        stop: &Receiver<()>,
    ) -> bool {
        let started = Instant::now();
        let now = now_ms();
        let cold_ms = u64::try_from(settings.cold_after.as_millis()).unwrap_or(u64::MAX);
        for (n, (key, v)) in self.memory.iter().enumerate() {
            if n % 64 == 63 {
                if matches!(stop.try_recv(), Err(TryRecvError::Disconnected)) {
                    return true;
                }
                if started.elapsed() > SLICE {
                    break;
                }
            }
            let flags = v.flags.load(Ordering::Relaxed);
            if flags & AUTO == 0
                || flags & SETTLED != 0
                || v.raw_len < MIN_VALUE
                || matches!(v.kind, ValueKind::Numeric(_))
                || v.is_expired(now)
            {
                continue;
            }
            let heat = v.heat.swap(0, Ordering::Relaxed);
            if flags & COLD != 0 {
                if heat >= HOT {
                    self.restore_fast(&key, &v);
                } else if v.dict != 0
                    && matches!(v.codec, Codec::Zstd(level) if level < settings.level)
                    && now.saturating_sub(v.created_ms) >= cold_ms
                {
                    // Put with a dictionary at the put level, and cold since: the cold level.
                    self.recompress_one(state, settings, &key, &v);
                }
                continue;
            }
            if heat >= HOT || now.saturating_sub(v.created_ms) < cold_ms {
                continue;
            }
            self.recompress_one(state, settings, &key, &v);
        }
        false
    }

    fn recompress_one(&self, state: &mut State, settings: &Settings, key: &str, old: &Arc<Stored>) {
        let Ok(raw) = old.raw_bytes(&self.dicts) else {
            return;
        };
        let family = family_of(key, old.kind);
        let mut dict = None;
        if settings.dictionaries {
            dict = self.dicts.current(&family);
            if dict.is_none() {
                // Only values that compress are sampled (noise would train nothing and only
                // cost memory); small ones wait for the dictionary while it is sampled for.
                let Some(plain) = state.compress(None, settings.level, &raw) else {
                    return;
                };
                if plain.1.len() + (old.payload.len() >> 4) > old.payload.len() {
                    old.flags.fetch_or(SETTLED, Ordering::Relaxed);
                    return;
                }
                state.sample(self, &family, &raw, false);
                dict = self.dicts.current(&family);
                if dict.is_none() && raw.len() < WAIT_FOR_DICT && state.may_train(&family) {
                    return;
                }
            } else {
                state.sample(self, &family, &raw, true);
            }
        }
        let Some((codec, payload, dict_id)) = state.compress(dict.as_ref(), settings.level, &raw)
        else {
            return;
        };
        if dict_id != 0 {
            state.note(&family, raw.len(), payload.len());
        }
        let old_len = old.payload.len();
        if payload.len() + (old_len >> KEEP_SHIFT) > old_len {
            // Not worth it: left as it is, never looked at again.
            old.flags.fetch_or(SETTLED, Ordering::Relaxed);
            return;
        }
        let flags = AUTO | COLD | (old.flags.load(Ordering::Relaxed) & ON_DISK);
        let fresh = old.recoded(codec, payload.into_boxed_slice(), dict_id, flags);
        self.replace_if_current(key, old, fresh);
    }

    /// A recompressed entry turned hot: back to the fast codec, for good.
    fn restore_fast(&self, key: &str, old: &Arc<Stored>) {
        let Ok(raw) = old.raw_bytes(&self.dicts) else {
            return;
        };
        let Ok((codec, payload)) = encode(&raw, old.kind, Codec::Auto, false) else {
            return;
        };
        let flags = AUTO | SETTLED | (old.flags.load(Ordering::Relaxed) & ON_DISK);
        let fresh = old.recoded(codec, payload.into_boxed_slice(), 0, flags);
        self.replace_if_current(key, old, fresh);
    }

    /// Swaps `old` for `fresh` under `key` only if `old` is still the entry there: under the
    /// key's stripe lock, which every put and remove also takes, so a newer value is never
    /// overwritten and a removed key never comes back.
    fn replace_if_current(&self, key: &str, old: &Arc<Stored>, fresh: Stored) {
        let _guard = self.stripe(key).lock();
        let weight_raw = fresh.raw_len;
        let stored_len = fresh.payload.len() as u64;
        if self.memory.replace_if_same(key, old, Arc::new(fresh)) {
            crate::stats::Counters::add(&self.counters.memory_raw, weight_raw);
            crate::stats::Counters::add(&self.counters.memory_stored, stored_len);
            crate::stats::Counters::add(&self.counters.recompressed, 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::testdata::{TraceSpec, json_value};
    use crate::{Codec, CompressedCache};

    /// Waits up to a minute for `done`.
    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn a_value_put_with_a_dictionary_is_raised_to_the_cold_level_once_cold() {
        let cache = CompressedCache::builder()
            .max_memory(64 << 20)
            .recompress_after(Duration::from_millis(1))
            .build()
            .unwrap();
        let spec = TraceSpec::default();
        for id in 0..600 {
            let v = json_value(&spec, id, 1500 + (id as usize * 37) % 3000);
            cache.put_bytes(&format!("doc:{id}"), &v).unwrap();
        }
        wait_for("a dictionary", || cache.get_stats().dictionaries > 0);
        // The benchmarks' JSON: the cold level with the dictionary saves about 6 % more.
        let value = json_value(&spec, 10_000, 12_000);
        let put = cache.put_bytes("doc:new", &value).unwrap();
        assert_eq!(put.codec, Codec::Zstd(super::PUT_DICT_LEVEL), "{put:?}");
        let mut raised = None;
        wait_for("the cold level", || {
            raised = cache
                .peek("doc:new")
                .unwrap()
                .filter(|i| i.codec != put.codec);
            raised.is_some()
        });
        let raised = raised.unwrap();
        assert_eq!(raised.codec, Codec::Zstd(super::COLD_LEVEL), "{raised:?}");
        assert!(
            raised.stored_bytes < put.stored_bytes,
            "{raised:?} vs {put:?}"
        );
        assert_eq!(cache.get_bytes("doc:new").unwrap().unwrap(), value);
    }
}
