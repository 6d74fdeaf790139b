"""CompressedCache: bytes, str and arrays (dtype and shape kept), disk tier, TTL, stats, errors."""

from __future__ import annotations

import time

import numpy as np
import pytest

import membound as mb


@pytest.mark.parametrize("compression", ["lz4", "zstd", "gzip", "auto", "none"])
def test_round_trips(compression, minilm):
    emb, texts = minilm
    cache = mb.CompressedCache(max_memory_mb=64, compression=compression)
    values = {
        "bytes": b"\x00\x01payload" * 100,
        "text": "\n".join(texts[:200]),
        "emb": emb[:1000],
        "ints": np.arange(24, dtype=np.int16).reshape(2, 3, 4),
        "bools": np.array([True, False, True]),
        "u8": np.arange(256, dtype=np.uint8),
        "complex": np.array([1 + 2j, 3 - 4j], dtype=np.complex64),
        "scalar": np.array(3.5),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "empty": np.zeros((0, 384), dtype=np.float32),
    }
    for k, v in values.items():
        report = cache.put(k, v)
        assert report["raw_bytes"] > 0 or k == "empty"
    for k, v in values.items():
        got = cache.get(k)
        assert type(got) is type(v), k
        if isinstance(v, np.ndarray):
            assert got.dtype == v.dtype and got.shape == v.shape, k
            assert np.array_equal(got, v), k
        else:
            assert got == v
    assert cache.get("missing") is None
    assert "emb" in cache and len(cache) == len(values)


def test_embeddings_compress_and_stats(minilm):
    emb, _ = minilm
    cache = mb.CompressedCache(compression="zstd")
    report = cache.put("emb", emb)
    assert report["stored_bytes"] < 0.95 * report["raw_bytes"]  # byte-shuffled floats compress
    assert np.array_equal(cache.get("emb"), emb)
    cache.get("nope")
    s = cache.stats()
    assert s["hits"] == 1 and s["misses"] == 1 and s["hit_rate"] == pytest.approx(0.5)
    assert 0 < s["compression_ratio"] < 1
    assert s["compression_savings_mb"] > 0


def test_disk_tier_survives_a_new_cache(tmp_path, minilm):
    emb, texts = minilm
    first = mb.CompressedCache(max_memory_mb=16, disk_dir=tmp_path)
    first.put("e", emb[:100])
    first.put("t", texts[0])
    del first
    second = mb.CompressedCache(max_memory_mb=16, disk_dir=tmp_path)
    assert np.array_equal(second.get("e"), emb[:100])
    assert second.get("t") == texts[0]
    checked = second.verify()
    assert checked["good"] >= 2 and checked["corrupt"] == 0
    assert second.disk_dir is not None
    assert second.remove("t") and second.get("t") is None
    assert second.clear() >= 1 and second.keys() == []


def test_ttl_expires():
    cache = mb.CompressedCache(ttl_seconds=0.05)
    cache.put("a", "short")
    cache.put("b", "long", ttl_seconds=60)
    assert cache.get("a") == "short"
    time.sleep(0.12)
    assert cache.get("a") is None
    assert cache.get("b") == "long"


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown compression method"):
        mb.CompressedCache(compression="brotli")
    cache = mb.CompressedCache()
    with pytest.raises(TypeError):
        cache.put("k", {"a": 1})
    with pytest.raises(TypeError):
        cache.put("k", np.array(["text"]))
    with pytest.raises(ValueError):
        cache.put("k", "v", ttl_seconds=-1)
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(mb.CacheError, match="not a directory"):
        mb.CompressedCache(disk_dir=not_a_dir)
