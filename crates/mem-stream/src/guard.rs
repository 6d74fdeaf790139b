//! Third-party decoders run under `catch_unwind`: arrow-rs, parquet and calamine panic on some
//! malformed inputs (an out-of-range buffer slice, an `unwrap` on a missing page header), and a
//! malformed file must end its stream with an error, not the process.
//!
//! While a decoder runs, a thread-local counter says so; a process-wide panic hook (the CLI's)
//! asks [`panic_is_contained`] and stays silent for such panics, since the caught panic comes
//! back as [`StreamError::DecoderPanic`] and is reported once, as an error.

use std::any::Any;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use crate::error::{Result, StreamError};

thread_local! {
    /// Nesting depth of [`contain`] calls on this thread.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Whether the current thread is inside a third-party decoder call whose panics mem-stream
/// catches and returns as [`StreamError::DecoderPanic`].
///
/// Meant for a panic hook: when this is `true` the panic is malformed input, not a bug, and it
/// will be reported as an error, so the hook can print nothing.
///
/// ```
/// let default = std::panic::take_hook();
/// std::panic::set_hook(Box::new(move |info| {
///     if !mem_stream::panic_is_contained() {
///         default(info);
///     }
/// }));
/// # let _ = std::panic::take_hook();
/// ```
#[must_use]
pub fn panic_is_contained() -> bool {
    DEPTH.with(|d| d.get() > 0)
}

/// Restores the depth when a [`contain`] call ends, unwinding or not.
struct Depth;

impl Depth {
    fn enter() -> Self {
        DEPTH.with(|d| d.set(d.get().saturating_add(1)));
        Self
    }
}

impl Drop for Depth {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Runs `f`, a call into the `decoder` library on data from `path`; a panic becomes
/// [`StreamError::DecoderPanic`].
pub(crate) fn contain<T>(
    path: &Path,
    decoder: &'static str,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let _depth = Depth::enter();
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let message = panic_message(payload.as_ref());
        tracing::debug!(path = %path.display(), decoder, %message, "decoder panic caught");
        Err(StreamError::DecoderPanic {
            path: path.to_path_buf(),
            decoder,
            message,
        })
    })
}

/// Runs `f` like [`contain`], for calls whose panic only means "no" (probing code).
pub(crate) fn contain_probe<T>(f: impl FnOnce() -> Option<T>) -> Option<T> {
    let _depth = Depth::enter();
    catch_unwind(AssertUnwindSafe(f)).ok().flatten()
}

/// The text of a panic payload, on one line.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    one_line(&text)
}

/// `text` with its line breaks and tabs folded into single spaces.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_and_the_flag_is_set_only_inside() {
        assert!(!panic_is_contained());
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let r: Result<()> = contain(Path::new("f.parquet"), "Parquet", || {
            seen.store(panic_is_contained(), std::sync::atomic::Ordering::Relaxed);
            std::panic::panic_any(String::from("slice\n  out of range"))
        });
        assert!(seen.load(std::sync::atomic::Ordering::Relaxed));
        assert!(!panic_is_contained());
        let e = r.unwrap_err().to_string();
        assert_eq!(
            e,
            "f.parquet: the Parquet decoder failed on malformed data: slice out of range"
        );
    }

    #[test]
    fn nested_calls_keep_the_flag_until_the_outer_one_ends() {
        let inner = contain(Path::new("f"), "x", || {
            let r = contain_probe(|| -> Option<()> { panic!("inner") });
            assert!(r.is_none());
            Ok(panic_is_contained())
        });
        assert!(inner.unwrap());
        assert!(!panic_is_contained());
    }
}
