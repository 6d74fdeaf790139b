//! The real MiniLM embeddings: NumPy interop and the size and fidelity targets.

use membound::service::npy::{NpyVersion, npy_header_bytes, parse_npy_header};
use membound::service::{
    CacheService, ModelInfo, Precision, cache_key_for, data_hash_for, read_npy, recall_at_k,
    write_npy,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The real MiniLM embeddings and their texts in the repository's `testdata/`.
fn data_dir() -> std::path::PathBuf {
    membound_tests::testdata("embeddings")
}

/// Reads the real texts (one JSON string per line).
fn real_texts() -> Vec<String> {
    membound::service::read_texts_jsonl(data_dir().join("texts-5k.jsonl"))
        .expect("texts-5k.jsonl in testdata/embeddings")
}

#[test]
fn reads_the_numpy_file_as_numpy_wrote_it() -> TestResult {
    // Allocates tens of MB: kept out of the way of the tests that measure this process.
    let _serial = crate::serial();
    let path = data_dir().join("minilm-5k.npy");
    let file = std::fs::read(&path)?;
    // The README's description: 7,680,128 bytes, a 128-byte header, shape (5000, 384).
    assert_eq!(file.len(), 7_680_128);
    let header = parse_npy_header(&file)?;
    assert_eq!(
        (header.version, header.descr.as_str(), header.fortran_order),
        (NpyVersion::V1, "<f4", false)
    );
    assert_eq!(
        (header.shape.clone(), header.data_offset),
        (vec![5000, 384], 128)
    );
    let e = read_npy(&path)?;
    assert_eq!(e.shape(), (5000, 384));
    // Independent of the parser: the values are the little-endian f32 after byte 128.
    for i in [0usize, 1, 383, 384, 1_000_000, 5000 * 384 - 1] {
        let at = 128 + 4 * i;
        let raw = f32::from_le_bytes([file[at], file[at + 1], file[at + 2], file[at + 3]]);
        assert_eq!(e.as_slice()[i].to_bits(), raw.to_bits(), "value {i}");
    }
    // The README's statistics: unit rows, values in [-0.264, 0.254], std 0.051.
    for (i, row) in e.iter_rows().enumerate() {
        let norm = row
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            .sqrt();
        assert!((norm - 1.0).abs() < 1e-6, "row {i} norm {norm}");
    }
    let min = e.as_slice().iter().copied().fold(f32::INFINITY, f32::min);
    let max = e
        .as_slice()
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    assert!(
        (f64::from(min) + 0.264).abs() < 0.0006 && (f64::from(max) - 0.254).abs() < 0.0006,
        "range [{min}, {max}]"
    );
    let n = e.as_slice().len() as f64;
    let mean = e.as_slice().iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let std = (e
        .as_slice()
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    assert!((std - 0.051).abs() < 0.0006, "std {std}");
    Ok(())
}

#[test]
fn export_is_byte_identical_to_what_numpy_wrote() -> TestResult {
    // Allocates tens of MB: kept out of the way of the tests that measure this process.
    let _serial = crate::serial();
    let path = data_dir().join("minilm-5k.npy");
    let e = read_npy(&path)?;
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("again.npy");
    write_npy(&out, &e)?;
    assert!(
        std::fs::read(&out)? == std::fs::read(&path)?,
        "exported file differs from NumPy's"
    );
    assert_eq!(
        npy_header_bytes(5000, 384),
        std::fs::read(&path)?[..128].to_vec()
    );
    Ok(())
}

#[test]
fn every_precision_meets_its_target() -> TestResult {
    // Allocates tens of MB: kept out of the way of the tests that measure this process.
    let _serial = crate::serial();
    let e = read_npy(data_dir().join("minilm-5k.npy"))?;
    let texts = real_texts();
    assert_eq!(texts.len(), e.rows());
    let model = ModelInfo::new("sentence-transformers/all-MiniLM-L6-v2");
    let key = cache_key_for(&texts, &model);
    let hash = data_hash_for(&texts);
    let service = CacheService::builder().max_cache_size(1 << 30).build()?;
    let queries: Vec<usize> = (0..e.rows()).step_by(50).collect();
    for (precision, max_ratio, min_cosine) in [
        (Precision::F32, 0.852, 1.0),
        (Precision::F16, 0.43, 0.99999),
        (Precision::Int8, 0.255, 0.9999),
    ] {
        let report = service.save_embeddings(&key, &e, &texts, &model, &hash, precision)?;
        assert!(report.stored);
        assert!(
            report.matrix_ratio <= max_ratio,
            "{precision}: ratio {} above {max_ratio}",
            report.matrix_ratio
        );
        assert!(
            report.fidelity.min_cosine >= min_cosine,
            "{precision}: min cosine {}",
            report.fidelity.min_cosine
        );
        let (back, back_texts) = service
            .get_cached_embeddings_checked(&key, &model, &hash)?
            .ok_or("miss")?;
        assert!(back_texts == texts, "texts differ");
        let measured = membound::service::fidelity(e.view(), back.view())?;
        assert!((measured.min_cosine - report.fidelity.min_cosine).abs() < 1e-9);
        match precision {
            Precision::F32 => {
                assert!(measured.exact);
                assert!(
                    back.as_slice()
                        .iter()
                        .zip(e.as_slice())
                        .all(|(a, b)| a.to_bits() == b.to_bits())
                );
            }
            Precision::Int8 => {
                let recall = recall_at_k(e.view(), back.view(), 10, &queries)?;
                assert!(recall >= 0.99, "int8 recall@10 {recall}");
            }
            _ => {}
        }
        let stats = service.get_enhanced_cache_stats();
        let entry = stats.entries.first().ok_or("listed")?;
        assert_eq!(
            (entry.precision, entry.fidelity),
            (precision, report.fidelity)
        );
    }
    assert!(
        service
            .get_enhanced_cache_stats()
            .precision_note
            .contains("only reachable with")
    );
    Ok(())
}
