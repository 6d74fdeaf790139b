use std::collections::HashMap;
use std::sync::Mutex as StdMutex;

use proptest::prelude::*;

use super::*;
use crate::codec::Codec;
use crate::entry::ENTRY_OVERHEAD;
use crate::value::ValueKind;

fn value(len: usize, tag: u8) -> Arc<Stored> {
    Arc::new(Stored::new(
        ValueKind::Bytes,
        Codec::None,
        len as u64,
        0,
        0,
        vec![tag; len].into_boxed_slice(),
        0,
        0,
    ))
}

type Log = Arc<StdMutex<Vec<(String, u8, Removal)>>>;

/// A tier whose listener records (key, first payload byte, cause).
fn tier(capacity: u64) -> (MemoryTier, Log) {
    let log: Log = Arc::default();
    let sink = Arc::clone(&log);
    let listener: Listener = Box::new(move |k, v, cause| {
        sink.lock()
            .unwrap()
            .push((k.to_owned(), v.payload.first().copied().unwrap_or(0), cause));
    });
    (MemoryTier::new(capacity, listener), log)
}

fn weight(key: &str, len: usize) -> u64 {
    (key.len() + len + ENTRY_OVERHEAD) as u64
}

#[test]
fn insert_get_replace_remove_keep_exact_weights_and_tell_the_listener() {
    let (t, log) = tier(1 << 20);
    assert!(t.insert("a", value(100, 1)));
    assert!(t.insert("b", value(200, 2)));
    assert_eq!(t.entry_count(), 2);
    assert_eq!(t.weighted_size(), weight("a", 100) + weight("b", 200));
    assert_eq!(t.get("a").unwrap().payload[0], 1);
    assert!(t.insert("a", value(300, 3)));
    assert_eq!(t.peek("a").unwrap().payload.len(), 300);
    assert_eq!(t.weighted_size(), weight("a", 300) + weight("b", 200));
    assert_eq!(t.remove("b").unwrap().payload[0], 2);
    assert!(t.remove("b").is_none());
    assert!(t.get("b").is_none());
    assert_eq!(t.entry_count(), 1);
    assert_eq!(t.weighted_size(), weight("a", 300));
    t.clear();
    assert_eq!((t.entry_count(), t.weighted_size()), (0, 0));
    let log = log.lock().unwrap().clone();
    assert_eq!(
        log,
        vec![
            ("a".into(), 1, Removal::Replaced),
            ("b".into(), 2, Removal::Explicit),
            ("a".into(), 3, Removal::Explicit),
        ]
    );
}

#[test]
fn the_budget_holds_and_evictions_go_to_the_listener() {
    let cap = 50 * weight("k000", 1000);
    let (t, log) = tier(cap);
    for i in 0..500 {
        t.insert(&format!("k{i:03}"), value(1000, (i % 250) as u8));
        assert!(t.weighted_size() <= cap);
    }
    assert_eq!(t.entry_count(), 50);
    assert_eq!(t.weighted_size(), cap);
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 450);
    assert!(log.iter().all(|(_, _, c)| *c == Removal::Size));
    // What is held plus what left is everything that was put, once.
    let mut keys: Vec<String> = t.iter().map(|(k, _)| k.to_string()).collect();
    keys.extend(log.iter().map(|(k, _, _)| k.clone()));
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 500);
}

#[test]
fn a_value_heavier_than_the_budget_is_refused_not_lost() {
    let (t, log) = tier(1000);
    assert!(!t.insert("big", value(2000, 9)));
    assert_eq!(t.entry_count(), 0);
    assert_eq!(
        log.lock().unwrap().as_slice(),
        &[("big".to_owned(), 9, Removal::Size)]
    );
    // A value that fills the whole budget alone evicts everything else.
    let (t, _) = tier(weight("whole", 3000));
    t.insert("x", value(10, 1));
    assert!(t.insert("whole", value(3000, 2)));
    assert_eq!(t.entry_count(), 1);
}

#[test]
fn popular_keys_survive_a_scan_of_one_off_keys() {
    let cap = 100 * weight("hot-000", 500);
    let (t, _) = tier(cap);
    for round in 0..20 {
        for i in 0..80 {
            let k = format!("hot-{i:03}");
            if t.get(&k).is_none() {
                t.insert(&k, value(500, 1));
            }
        }
        // 200 keys asked for once each, every round.
        for i in 0..200 {
            let k = format!("one-{round}-{i:03}");
            if t.get(&k).is_none() {
                t.insert(&k, value(500, 2));
            }
        }
    }
    let hot = (0..80)
        .filter(|i| t.peek(&format!("hot-{i:03}")).is_some())
        .count();
    assert!(hot >= 76, "{hot} of 80 popular keys held");
}

#[test]
fn new_keys_are_admitted_when_nothing_is_more_popular() {
    // Put-only traffic (each key once): the tier keeps turning over, newest in.
    let cap = 10 * weight("k0000", 100);
    let (t, _) = tier(cap);
    for i in 0..1000 {
        t.insert(&format!("k{i:04}"), value(100, 1));
    }
    let recent = (990..1000)
        .filter(|i| t.peek(&format!("k{i:04}")).is_some())
        .count();
    assert!(recent >= 5, "{recent} of the last 10 keys held");
}

#[test]
fn replace_if_same_only_replaces_the_same_entry() {
    let (t, log) = tier(1 << 20);
    let first = value(100, 1);
    t.insert("k", Arc::clone(&first));
    assert!(t.replace_if_same("k", &first, value(10, 2)));
    assert_eq!(t.weighted_size(), weight("k", 10));
    // `first` is no longer there: a stale replacement is refused.
    assert!(!t.replace_if_same("k", &first, value(10, 3)));
    assert!(!t.replace_if_same("absent", &first, value(10, 3)));
    assert_eq!(t.peek("k").unwrap().payload[0], 2);
    assert_eq!(log.lock().unwrap().len(), 1);
}

#[test]
fn threads_hammering_the_tier_keep_its_accounting_exact() {
    let cap = 200 * weight("t0-0000", 300);
    let (t, log) = tier(cap);
    std::thread::scope(|s| {
        for th in 0..4 {
            let t = &t;
            s.spawn(move || {
                for i in 0..5000u32 {
                    let k = format!("t{}-{:04}", (i * 7 + th) % 3, i % 700);
                    match i % 5 {
                        0 => {
                            t.remove(&k);
                        }
                        1 | 2 => {
                            t.get(&k);
                        }
                        _ => {
                            t.insert(&k, value(100 + (i as usize % 400), 1));
                        }
                    }
                }
            });
        }
    });
    t.trim();
    let held: u64 = t.iter().map(|(k, v)| u64::from(v.weight(k.len()))).sum();
    assert_eq!(t.weighted_size(), held);
    assert_eq!(t.entry_count(), t.iter().count() as u64);
    assert!(t.weighted_size() <= cap);
    assert!(!log.lock().unwrap().is_empty());
}

#[derive(Debug, Clone)]
enum Op {
    Insert(u8, u16),
    Get(u8),
    Remove(u8),
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..40, 0u16..3000).prop_map(|(k, n)| Op::Insert(k, n)),
        3 => (0u8..40).prop_map(Op::Get),
        2 => (0u8..40).prop_map(Op::Remove),
        1 => Just(Op::Clear),
    ]
}

proptest! {
    /// Against a model map: whatever the tier holds is the latest value put under that key,
    /// removed keys are gone, and the weight is exactly what is held and within budget.
    #[test]
    fn the_tier_agrees_with_a_map(ops in proptest::collection::vec(op(), 1..300)) {
        let cap = 12 * weight("k00", 1500);
        let (t, _) = tier(cap);
        let mut model: HashMap<u8, (u16, u8)> = HashMap::new();
        for (n, op) in ops.into_iter().enumerate() {
            let tag = (n % 251) as u8;
            match op {
                Op::Insert(k, len) => {
                    t.insert(&format!("k{k:02}"), value(usize::from(len), tag));
                    model.insert(k, (len, tag));
                }
                Op::Get(k) => {
                    if let Some(v) = t.get(&format!("k{k:02}")) {
                        let (len, tag) = model[&k];
                        prop_assert_eq!(v.payload.len(), usize::from(len));
                        prop_assert_eq!(v.payload.first().copied().unwrap_or(tag), tag);
                    }
                }
                Op::Remove(k) => {
                    t.remove(&format!("k{k:02}"));
                    model.remove(&k);
                }
                Op::Clear => {
                    t.clear();
                    model.clear();
                }
            }
            let mut held = 0;
            for (key, v) in &t {
                let k: u8 = key[1..].parse().unwrap();
                let (len, tag) = *model.get(&k).expect("a held key was put and not removed");
                prop_assert_eq!(v.payload.len(), usize::from(len));
                prop_assert_eq!(v.payload.first().copied().unwrap_or(tag), tag);
                held += u64::from(v.weight(key.len()));
            }
            prop_assert_eq!(t.weighted_size(), held);
            prop_assert!(held <= cap);
        }
    }
}
