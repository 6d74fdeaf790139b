//! Classifying a child run: OK, or one of the failure classes, and the panic it reported.

use super::run::{Killed, Outcome};

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// Exit 0, or a non-zero exit with an `error:` line and no panic.
    Ok,
    /// Exit code 101, or a panic message on stderr.
    Panic,
    /// Killed at the wall-clock timeout.
    Hang,
    /// Killed at the RSS cap, or its peak RSS went over the cap.
    Memory,
    /// A non-zero exit without a line beginning `error:`.
    NoErrorLine,
    /// Ended by a signal the harness did not send (SIGSEGV, SIGABRT, ...).
    Signal,
}

impl Class {
    /// Every class, in the order of the summary's columns.
    pub const ALL: [Class; 6] = [
        Class::Ok,
        Class::Panic,
        Class::Hang,
        Class::Memory,
        Class::NoErrorLine,
        Class::Signal,
    ];

    /// The name shown in the summary.
    pub fn name(self) -> &'static str {
        match self {
            Class::Ok => "OK",
            Class::Panic => "PANIC",
            Class::Hang => "HANG",
            Class::Memory => "MEMORY",
            Class::NoErrorLine => "NO_ERROR_LINE",
            Class::Signal => "SIGNAL",
        }
    }

    /// The folder under `target/fuzz/` where failing inputs of this class are kept.
    pub fn dir_name(self) -> &'static str {
        match self {
            Class::Ok => "ok",
            Class::Panic => "panic",
            Class::Hang => "hang",
            Class::Memory => "memory",
            Class::NoErrorLine => "no_error_line",
            Class::Signal => "signal",
        }
    }
}

/// The class of `o` under an RSS cap of `rss_cap` bytes.
pub fn classify(o: &Outcome, rss_cap: u64) -> Class {
    match o.killed {
        Some(Killed::Timeout) => return Class::Hang,
        Some(Killed::RssCap) => return Class::Memory,
        None => {}
    }
    if o.peak_rss > rss_cap {
        return Class::Memory;
    }
    // A panic's message says more than the SIGABRT of a panic while panicking.
    if o.stderr.contains("panicked at") || o.stderr.contains("RUST_BACKTRACE") {
        return Class::Panic;
    }
    if o.signal().is_some() {
        return Class::Signal;
    }
    if o.exit_code() == Some(101) {
        return Class::Panic;
    }
    if o.exit_code() == Some(0) || o.stderr.lines().any(|l| l.starts_with("error:")) {
        return Class::Ok;
    }
    Class::NoErrorLine
}

/// A panic reported on stderr: where, and the first line of its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanicInfo {
    /// `file:line:col` from the "panicked at" line.
    pub location: String,
    /// The first line of the message (after the "panicked at" line).
    pub message: String,
}

impl PanicInfo {
    /// The key panics are deduplicated by: the location and the message with digits replaced,
    /// so "index 7 out of range" and "index 9 out of range" at one place count as one.
    pub fn key(&self) -> String {
        let mut key = String::with_capacity(self.location.len() + self.message.len() + 3);
        key.push_str(&self.location);
        key.push_str(" | ");
        let mut in_number = false;
        for c in self.message.chars() {
            if c.is_ascii_digit() {
                if !in_number {
                    key.push('N');
                }
                in_number = true;
            } else {
                key.push(c);
                in_number = false;
            }
        }
        key
    }
}

/// The first panic on `stderr`: "thread 'main' panicked at src/x.rs:1:2:\nmessage".
pub fn panic_info(stderr: &str) -> Option<PanicInfo> {
    let mut lines = stderr.lines();
    let line = lines.find(|l| l.contains("panicked at"))?;
    let after = line.split("panicked at").nth(1).unwrap_or("").trim();
    // Since Rust 1.73 the message is on the next line; before, it followed on the same line.
    let (location, inline) = match after.strip_suffix(':') {
        Some(loc) => (loc.to_owned(), None),
        None => match after.split_once(": ") {
            Some((msg, loc)) => (loc.to_owned(), Some(msg.trim_matches('\'').to_owned())),
            None => (after.to_owned(), None),
        },
    };
    let message = inline
        .or_else(|| lines.next().map(str::to_owned))
        .unwrap_or_default();
    Some(PanicInfo { location, message })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn outcome(status: i32, stderr: &str) -> Outcome {
        Outcome {
            status,
            killed: None,
            peak_rss: 1 << 20,
            rusage_peak: 1 << 20,
            harness_peak: 1 << 20,
            hwm: 0,
            wall: Duration::ZERO,
            stdout: String::new(),
            stderr: stderr.to_owned(),
        }
    }

    const PANIC: &str = "thread 'main' panicked at crates/x/src/a.rs:10:5:\nindex out of bounds: the len is 3 but the index is 7\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";

    #[test]
    fn classes() {
        let cap = 512 << 20;
        assert_eq!(classify(&outcome(0, ""), cap), Class::Ok);
        assert_eq!(
            classify(&outcome(1 << 8, "error: bad file\n"), cap),
            Class::Ok
        );
        assert_eq!(
            classify(&outcome(1 << 8, "oops\n"), cap),
            Class::NoErrorLine
        );
        assert_eq!(classify(&outcome(101 << 8, PANIC), cap), Class::Panic);
        assert_eq!(classify(&outcome(libc::SIGSEGV, ""), cap), Class::Signal);
        let mut big = outcome(0, "");
        big.peak_rss = cap + 1;
        assert_eq!(classify(&big, cap), Class::Memory);
        let mut hang = outcome(libc::SIGKILL, "");
        hang.killed = Some(Killed::Timeout);
        assert_eq!(classify(&hang, cap), Class::Hang);
    }

    #[test]
    fn panic_messages() {
        let p = panic_info(PANIC).expect("a panic");
        assert_eq!(p.location, "crates/x/src/a.rs:10:5");
        assert!(p.message.starts_with("index out of bounds"));
        assert_eq!(
            p.key(),
            "crates/x/src/a.rs:10:5 | index out of bounds: the len is N but the index is N"
        );
        assert_eq!(panic_info("error: fine\n"), None);
    }
}
