//! The background thread that removes expired entries; it holds only a `Weak` reference and
//! stops (and is joined) when the cache is dropped.

use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::cache::Inner;
use crate::error::CacheError;

/// Handle on the cleanup thread: dropping it stops and joins the thread.
#[derive(Debug)]
pub(crate) struct Cleaner {
    wake: Option<Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl Cleaner {
    /// Starts the thread unless the interval is zero.
    pub(crate) fn spawn(inner: &Arc<Inner>) -> Result<Option<Self>, CacheError> {
        if inner.cleanup_every().is_zero() {
            return Ok(None);
        }
        let weak = Arc::downgrade(inner);
        let (tx, rx) = crossbeam_channel::bounded(1);
        let handle = std::thread::Builder::new()
            .name("zcache-cleanup".into())
            .spawn(move || run(&weak, &rx))
            .map_err(CacheError::Spawn)?;
        Ok(Some(Self {
            wake: Some(tx),
            handle: Some(handle),
        }))
    }

    /// Asks the thread to run now and re-read its interval (after a pressure change).
    pub(crate) fn wake(&self) {
        if let Some(tx) = &self.wake {
            let _ = tx.try_send(());
        }
    }
}

fn run(weak: &Weak<Inner>, rx: &Receiver<()>) {
    loop {
        let every = match weak.upgrade() {
            Some(inner) => inner.cleanup_every(),
            None => return,
        };
        match rx.recv_timeout(every.max(Duration::from_millis(1))) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let Some(inner) = weak.upgrade() else { return };
        let removed = inner.cleanup_expired();
        if removed > 0 {
            tracing::debug!(removed, "zcache cleanup removed expired entries");
        }
    }
}

impl Drop for Cleaner {
    fn drop(&mut self) {
        // Dropping the sender disconnects the channel, which ends the thread's wait at once.
        self.wake = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
