"""optimize / optimize_array / release_memory."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import membound as mb
from conftest import CONFORMANCE


def test_optimize_table_is_lossless_and_smaller():
    n = 50_000
    table = pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "kind": [["a", "b", "c"][i % 3] for i in range(n)],
            "score": pa.array([i / 4 for i in range(n)], pa.float64()),
        }
    )
    small, report = mb.optimize(table)
    assert isinstance(small, pa.Table)
    assert small.num_rows == n
    assert small.schema.field("id").type == pa.uint16()
    assert small.schema.field("score").type == pa.float32()
    assert pa.types.is_dictionary(small.schema.field("kind").type)
    for name in table.column_names:
        assert small.column(name).cast(table.schema.field(name).type).equals(table.column(name))
    assert report["bytes_after"] < report["bytes_before"]
    assert 0.5 < report["reduction_fraction"] < 1
    assert [c["name"] for c in report["columns"]] == ["id", "kind", "score"]
    assert report["columns"][0]["type_after"] == "UInt16"


def test_optimize_accepts_batches_readers_dicts_and_chunked_tables():
    batch = pa.record_batch({"x": pa.array([1, 2, 3], pa.int64())})
    for obj in (batch, pa.RecordBatchReader.from_batches(batch.schema, [batch]), {"x": [1, 2, 3]}):
        small, _ = mb.optimize(obj)
        assert small.column("x").to_pylist() == [1, 2, 3]
    chunked = pa.Table.from_batches(
        [pa.record_batch({"x": pa.array([1, 2], pa.int64())}), pa.record_batch({"x": pa.array([3, 70_000], pa.int64())})]
    )
    small, report = mb.optimize(chunked)
    # One schema over all chunks: wide enough for 70,000.
    assert small.schema.field("x").type == pa.uint32()
    assert small.column("x").to_pylist() == [1, 2, 3, 70_000]
    assert report["bytes_after"] < report["bytes_before"]


def test_optimize_conformance_file():
    table = mb.open(CONFORMANCE / "parquet/alltypes_tiny_pages.parquet").read_all()
    small, report = mb.optimize(table)
    assert small.num_rows == table.num_rows == 7300
    assert report["bytes_after"] <= report["bytes_before"]


def test_optimize_rejects_non_tables():
    with pytest.raises(TypeError, match="Arrow table-like"):
        mb.optimize(42)


def test_optimize_array_narrowest_keeps_shape_and_values():
    a = np.array([[1, 2, 300], [4, 5, 6]], dtype=np.int64)
    out = mb.optimize_array(a)
    assert out.dtype == np.uint16 and out.shape == (2, 3)
    assert (out == a).all()
    f = np.array([0.5, -2.0, 1e10], dtype=np.float64)
    assert mb.optimize_array(f).dtype == np.float32
    neg = np.arange(-100, 100, dtype=np.int32)
    assert mb.optimize_array(neg).dtype == np.int8
    # Non-contiguous input is accepted.
    assert (mb.optimize_array(a[:, ::2]) == a[:, ::2]).all()


def test_optimize_array_targets():
    assert mb.optimize_array(np.array([1, 2]), "int32").dtype == np.int32
    with pytest.raises(ValueError, match="index 0"):
        mb.optimize_array(np.array([0.1]), np.float32)
    lossy = mb.optimize_array(np.array([0.1]), np.float32, lossy=True)
    assert lossy.dtype == np.float32 and lossy[0] == np.float32(0.1)
    with pytest.raises(ValueError, match="index 1"):
        mb.optimize_array(np.array([1, 1000]), "int8")
    with pytest.raises(TypeError):
        mb.optimize_array(np.array(["a", "b"]))
    with pytest.raises(TypeError):
        mb.optimize_array([1, 2, 3])
    with pytest.raises(TypeError):
        mb.optimize_array(np.array([1, 2]), "complex64")


def test_release_memory_reports():
    junk = [bytearray(1 << 20) for _ in range(50)]
    del junk
    r = mb.release_memory()
    assert set(r) >= {"rss_before_mb", "rss_after_mb", "seconds", "released_mb", "trimmed"}
    assert r["rss_before_mb"] > 0 and r["rss_after_mb"] > 0
    assert 0 <= r["seconds"] < 5
