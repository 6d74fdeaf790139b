//! The memory budget really holds: measured RSS, in a child process of its own.

use std::io::Read;

use crate::child::{lines_with, spawn};

#[test]
fn a_full_cache_of_large_values_stays_within_its_budget_in_rss() {
    within_budget(48.0, 16 * 1024);
}

#[test]
fn a_full_cache_of_small_values_stays_within_its_budget_in_rss() {
    within_budget(24.0, 1024);
}

fn within_budget(budget_mb: f64, max_len: u64) {
    let mut child = spawn(&format!("rss:{budget_mb}:{max_len}"));
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(child.wait().unwrap().success(), "{out}");
    let num = |p: &str| -> f64 {
        lines_with(&out, p)
            .first()
            .unwrap_or_else(|| panic!("{p} missing in {out}"))
            .trim()
            .parse()
            .unwrap()
    };
    let budget = budget_mb * 1024.0 * 1024.0;
    let growth = num("rss_growth ");
    let accounted = num("accounted ");
    println!(
        "budget {budget} accounted {accounted} rss growth {growth} entries {}",
        num("entries ")
    );
    assert!(
        accounted <= budget,
        "accounting {accounted} above budget {budget}"
    );
    // The cache is really full (the test measures something)...
    assert!(accounted > budget * 0.95, "{out}");
    // ...and the process grew by no more than the budget plus 10 %.
    assert!(
        growth <= budget * 1.10,
        "RSS grew {:.1} MB for a {budget_mb} MB budget",
        growth / 1048576.0
    );
}
