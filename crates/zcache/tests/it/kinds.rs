//! Every value kind round-trips through both tiers with every codec; kinds never mix.

use proptest::prelude::*;
use zcache::{CacheError, Codec, CompressedCache, InnerCodec, Json, PutOptions};

fn codecs() -> Vec<Codec> {
    vec![
        Codec::Auto,
        Codec::None,
        Codec::Lz4,
        Codec::Gzip(6),
        Codec::Zstd(3),
        Codec::Zstd(-1),
        Codec::Shuffle {
            width: 2,
            inner: InnerCodec::Lz4,
        },
        Codec::Shuffle {
            width: 4,
            inner: InnerCodec::Zstd(1),
        },
        Codec::Shuffle {
            width: 8,
            inner: InnerCodec::Gzip(1),
        },
    ]
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Record {
    id: u64,
    name: String,
    scores: Vec<f64>,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn every_kind_and_codec_round_trips_through_both_tiers(
        bytes in proptest::collection::vec(any::<u8>(), 0..2000),
        text in "\\PC{0,300}",
        floats in proptest::collection::vec(any::<f32>(), 0..500),
        wide in proptest::collection::vec(any::<i64>(), 0..200),
        halfs in proptest::collection::vec(any::<u16>(), 0..300),
        id: u64,
    ) {
        let dir = tempfile::tempdir().unwrap();
        // Memory 0: every get below is served from (and verified on) disk.
        for memory_mb in [16.0, 0.0] {
            let cache = crate::disk_cache(dir.path(), memory_mb);
            let halfs: Vec<half::f16> = halfs.iter().map(|b| half::f16::from_bits(*b)).collect();
            let rec = Record { id, name: text.clone(), scores: vec![1.5, -0.0] };
            for codec in codecs() {
                let o = PutOptions::new().compression(codec);
                cache.put_with("b", &bytes[..], o).unwrap();
                cache.put_with("t", text.as_str(), o).unwrap();
                cache.put_with("f", &floats[..], o).unwrap();
                cache.put_with("w", &wide[..], o).unwrap();
                cache.put_with("h", &halfs[..], o).unwrap();
                cache.put_with("r", &Json(rec.clone()), o).unwrap();
                prop_assert_eq!(cache.get_bytes("b").unwrap(), Some(bytes.clone()));
                prop_assert_eq!(cache.get_string("t").unwrap(), Some(text.clone()));
                let got: Vec<u32> = cache.get_vec::<f32>("f").unwrap().unwrap().iter().map(|f| f.to_bits()).collect();
                let want: Vec<u32> = floats.iter().map(|f| f.to_bits()).collect();
                prop_assert_eq!(got, want, "codec {}", codec);
                prop_assert_eq!(cache.get_vec::<i64>("w").unwrap(), Some(wide.clone()));
                let got_h: Vec<u16> = cache.get_vec::<half::f16>("h").unwrap().unwrap().iter().map(|h| h.to_bits()).collect();
                prop_assert_eq!(got_h, halfs.iter().map(|h| h.to_bits()).collect::<Vec<_>>());
                prop_assert_eq!(cache.get_json::<Record>("r").unwrap(), Some(rec.clone()));
            }
        }
    }
}

#[test]
fn another_kind_is_an_error_never_garbage() {
    let cache = CompressedCache::builder()
        .max_memory(4 << 20)
        .build()
        .unwrap();
    cache.put_slice("v", &[1.0f32, 2.0, 3.0, 4.0]).unwrap();
    cache.put_str("s", "text").unwrap();
    cache.put_json("j", &vec![1u8, 2]).unwrap();
    for err in [
        cache.get_string("v").unwrap_err(),
        cache.get_vec::<i32>("v").unwrap_err(),
        cache.get_vec::<f64>("v").unwrap_err(),
        cache.get_bytes("s").unwrap_err(),
        cache.get_json::<Vec<u16>>("j").unwrap_err(),
        cache.get_json::<String>("s").unwrap_err(),
    ] {
        assert!(matches!(err, CacheError::KindMismatch { .. }), "{err}");
        assert!(err.to_string().contains("holds a"), "{err}");
    }
    assert_eq!(
        cache.get_vec::<f32>("v").unwrap(),
        Some(vec![1.0, 2.0, 3.0, 4.0])
    );
    assert_eq!(cache.get::<Json<Vec<u8>>>("j").unwrap(), Some(vec![1, 2]));
}

#[test]
fn auto_picks_codecs_per_kind_and_stores_noise_raw() {
    let cache = CompressedCache::builder()
        .max_memory(16 << 20)
        .build()
        .unwrap();
    let emb: Vec<f32> = (0..4096).map(|i| (i as f32 * 0.37).sin() * 0.05).collect();
    assert!(matches!(
        cache.put_slice("e", &emb).unwrap().codec,
        Codec::Shuffle { width: 4, .. }
    ));
    let text = "the quick brown fox jumps over the lazy dog. ".repeat(50);
    let r = cache.put_str("t", &text).unwrap();
    assert_eq!(r.codec, Codec::Lz4);
    assert!(r.stored_bytes * 4 < r.raw_bytes);
    assert_eq!(cache.put_str("tiny", "hi").unwrap().codec, Codec::None);
    let mut x = 7u64;
    let noise: Vec<u8> = (0..8192)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            (x >> 56) as u8
        })
        .collect();
    let r = cache.put_bytes("n", &noise).unwrap();
    assert_eq!((r.codec, r.stored_bytes), (Codec::None, 8192));
    let s = cache.get_stats();
    assert!(
        s.compression_ratio < 1.0 && s.compression_savings_mb > 0.0,
        "{s:?}"
    );
}

#[test]
fn oversized_values_and_keys_are_refused() {
    let cache = CompressedCache::builder()
        .max_entry_bytes(1000)
        .build()
        .unwrap();
    let err = cache.put_bytes("big", &[0u8; 1001]).unwrap_err();
    assert!(
        matches!(
            err,
            CacheError::EntryTooLarge {
                size: 1001,
                max: 1000,
                ..
            }
        ),
        "{err}"
    );
    let long_key = "k".repeat(70_000);
    assert!(matches!(
        cache.put_bytes(&long_key, b"x").unwrap_err(),
        CacheError::InvalidKey { .. }
    ));
    assert!(cache.get_bytes("big").unwrap().is_none());
}

#[test]
fn remove_contains_keys_clear() {
    let dir = tempfile::tempdir().unwrap();
    let cache = crate::disk_cache(dir.path(), 8.0);
    for i in 0..5 {
        cache
            .put_bytes(&format!("k{i}"), &crate::value_of(i))
            .unwrap();
    }
    assert!(cache.contains("k3"));
    assert_eq!(cache.keys(), vec!["k0", "k1", "k2", "k3", "k4"]);
    assert!(cache.remove("k3").unwrap());
    assert!(!cache.remove("k3").unwrap());
    assert!(!cache.contains("k3"));
    assert_eq!(crate::entry_files(dir.path()).len(), 4);
    cache.clear().unwrap();
    assert!(cache.keys().is_empty());
    assert!(crate::entry_files(dir.path()).is_empty());
    assert_eq!(cache.get_bytes("k1").unwrap(), None);
}
