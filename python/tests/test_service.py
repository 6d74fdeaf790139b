"""CacheService on the real MiniLM embeddings and texts."""

from __future__ import annotations

import numpy as np
import pytest

import membound as mb

MODEL = {"name": "sentence-transformers/all-MiniLM-L6-v2", "revision": "1", "params": {"normalize": True}}


def test_save_and_read_back_lossless(tmp_path, minilm):
    emb, texts = minilm
    svc = mb.CacheService(tmp_path, precision="f32", max_cache_size_gb=1.0)
    key = mb.cache_key_for(texts, MODEL)
    data_hash = mb.data_hash_for(texts)
    report = svc.save_embeddings_compressed(key, emb, texts, MODEL, data_hash)
    assert report["stored"] and report["rows"] == 5000 and report["dim"] == 384
    assert report["matrix_ratio"] < 0.95
    back, back_texts = svc.get_cached_embeddings_fast(key)
    assert back.dtype == np.float32 and back.shape == (5000, 384)
    assert np.array_equal(back, emb) and back_texts == texts
    assert back.base is not None  # the decoded vector, moved into NumPy
    hit = svc.get_cached_embeddings_checked(key, MODEL, data_hash)
    assert hit is not None and np.array_equal(hit[0], emb)
    # Another model or other data: a miss, never data.
    assert svc.get_cached_embeddings_checked(key, "another-model", data_hash) is None
    assert svc.get_cached_embeddings_checked(key, MODEL, "other-hash") is None
    assert svc.get_cached_embeddings_fast("absent") is None
    stats = svc.get_enhanced_cache_stats()
    assert stats["entry_count"] == 1 and stats["hits"] == 2 and stats["stale_misses"] == 2
    assert stats["entries"][0]["model"] == MODEL["name"]
    # A new service on the same directory finds it.
    again = mb.CacheService(tmp_path)
    assert key in again and again.keys() == [key]
    assert np.array_equal(again.get_cached_embeddings_fast(key)[0], emb)
    assert again.optimize_cache()["entries"] == 1


@pytest.mark.parametrize("precision,min_cos,max_ratio", [("f16", 0.9999, 0.6), ("int8", 0.999, 0.35)])
def test_lossy_precisions(tmp_path, minilm, precision, min_cos, max_ratio):
    emb, texts = minilm
    svc = mb.CacheService(tmp_path, precision=precision)
    assert svc.precision == precision
    report = svc.save_embeddings_compressed("k", emb, texts, "minilm", mb.data_hash_for(texts))
    assert report["fidelity"]["min_cosine"] >= min_cos
    assert report["matrix_ratio"] <= max_ratio
    back, _ = svc.get_cached_embeddings_fast("k")
    cos = (back * emb).sum(1) / np.linalg.norm(back, axis=1) / np.linalg.norm(emb, axis=1)
    assert cos.min() >= min_cos


def test_keys_are_deterministic(minilm):
    _, texts = minilm
    k = mb.cache_key_for(texts[:10], "m")
    assert len(k) == 32 and k == mb.cache_key_for(list(texts[:10]), {"name": "m"})
    assert k != mb.cache_key_for(texts[:10], {"name": "m", "revision": "2"})
    assert mb.data_hash_for(texts[:10]) != mb.data_hash_for(texts[:9])


def test_bad_input(tmp_path, minilm):
    emb, texts = minilm
    svc = mb.CacheService(tmp_path)
    with pytest.raises(TypeError, match="float32"):
        svc.save_embeddings_compressed("k", emb.astype(np.float64), texts, "m", "h")
    with pytest.raises(ValueError, match="texts"):
        svc.save_embeddings_compressed("k", emb, texts[:10], "m", "h")
    with pytest.raises(TypeError):
        svc.save_embeddings_compressed("k", emb[0], texts[:1], "m", "h")
    with pytest.raises(TypeError, match="list of str"):
        mb.cache_key_for("one text", "m")
    with pytest.raises(TypeError):
        mb.cache_key_for(texts, 42)
    with pytest.raises(ValueError, match="name"):
        mb.cache_key_for(texts, {"revision": "1"})
    with pytest.raises(ValueError, match="unknown precision"):
        mb.CacheService(tmp_path, precision="f8")
