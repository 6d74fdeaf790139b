//! `#[profile_function]` on two functions, then the recorded totals.
//!
//! `cargo run -p mem-profile --example attribute`
#![expect(clippy::print_stdout, reason = "an example prints its findings")]

use mem_profile::profile_function;

#[profile_function]
fn tokenize(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_lowercase).collect()
}

#[profile_function(name = "example::count")]
fn count(words: &[String]) -> usize {
    words.iter().filter(|w| w.len() > 3).count()
}

fn main() {
    let text = "Memory leaks are growth that never stops ".repeat(1000);
    for _ in 0..5 {
        let words = tokenize(&text);
        count(&words);
    }
    for f in mem_profile::get_memory_profiler().function_stats() {
        println!(
            "{:<40} {} calls, {:.3} ms",
            f.name,
            f.calls,
            f.total_elapsed_s * 1e3
        );
    }
}
