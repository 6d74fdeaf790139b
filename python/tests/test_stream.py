"""stream / open / preview on the Apache conformance files and generated CSV."""

from __future__ import annotations

import threading
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import membound as mb
from conftest import CONFORMANCE, expected_files

READABLE = [f for f in expected_files() if f.get("readable")]
UNREADABLE = [f for f in expected_files() if not f.get("readable")]


@pytest.mark.parametrize("entry", READABLE, ids=[f["file"] for f in READABLE])
def test_conformance_files_stream_with_expected_rows_and_columns(entry):
    path = CONFORMANCE / entry["file"]
    names = [c["name"] for c in entry["columns"]]
    for optimize in (True, False):
        rows = 0
        for batch in mb.stream(path, chunk_size=1000, optimize=optimize):
            assert isinstance(batch, pa.RecordBatch)
            assert batch.schema.names == names
            rows += batch.num_rows
        assert rows == entry["rows"]
    table = mb.open(path).read_all()
    assert table.num_rows == entry["rows"]
    assert table.schema.names == names


@pytest.mark.parametrize("entry", UNREADABLE, ids=[f["file"] for f in UNREADABLE])
def test_unreadable_conformance_files_raise_membound_errors(entry):
    path = CONFORMANCE / entry["file"]
    try:
        for _ in mb.stream(path):
            pass
    except mb.Error as e:
        assert str(path) in str(e) or path.name in str(e)


def test_values_match_pyarrow():
    path = CONFORMANCE / "parquet/alltypes_plain.parquet"
    ours = mb.open(path).read_all()
    theirs = pq.read_table(path)
    for name in ("id", "bool_col", "bigint_col", "double_col"):
        assert ours.column(name).to_pylist() == theirs.column(name).to_pylist()
    # Optimised types hold the same values.
    small = mb.preview(path, rows=100)
    assert small.column("id").to_pylist() == theirs.column("id").to_pylist()
    assert small.schema.field("id").type.bit_width < theirs.schema.field("id").type.bit_width


def test_stream_csv_chunks_one_stable_schema(small_csv):
    s = mb.stream(small_csv, chunk_size=4000, memory_limit_mb=1000)
    batches = list(s)
    assert sum(b.num_rows for b in batches) == 25_000
    assert all(b.num_rows <= 4000 for b in batches)
    assert len({b.schema for b in batches}) == 1
    assert batches[0].schema.field("category").type == pa.dictionary(pa.int8(), pa.string())
    meta = s.metadata
    assert meta["progress"] == pytest.approx(1.0)
    assert meta["widenings"] == []
    assert s.peak_rss_mb > 0
    ids = pa.concat_arrays([b.column("id") for b in batches]).to_pylist()
    assert ids == list(range(25_000))


def test_stream_columns_limit_and_plain_types(small_csv):
    batches = list(mb.stream(small_csv, columns=["text", "id"], optimize=False, limit=1234))
    assert sum(b.num_rows for b in batches) == 1234
    assert batches[0].schema.names == ["text", "id"]
    assert batches[0].schema.field("id").type == pa.int64()


def test_open_is_a_record_batch_reader_with_one_schema(small_csv):
    reader = mb.open(small_csv, chunk_size=5000)
    assert isinstance(reader, pa.RecordBatchReader)
    table = reader.read_all()
    assert table.num_rows == 25_000
    assert table.schema.field("score").type == pa.float64()
    optimised = mb.open(small_csv, chunk_size=5000, optimize=True).read_all()
    assert optimised.num_rows == 25_000
    assert optimised.nbytes < table.nbytes


def test_preview_reads_the_head(small_csv):
    t = mb.preview(small_csv, rows=10)
    assert isinstance(t, pa.Table)
    assert t.num_rows == 10
    assert t.column("id").to_pylist() == list(range(10))


def test_batches_cross_without_copies(small_csv):
    """A batch's buffers are those Rust allocated: pyarrow -> Rust -> pyarrow keeps every
    address, and optimize() hands back untouched columns with the input's buffers."""
    batch = next(iter(mb.stream(small_csv, chunk_size=4000)))
    table = pa.Table.from_batches([batch])
    echoed = mb._native._echo(table)

    def addresses(t):
        return [b.address for col in t.columns for chunk in col.chunks for b in chunk.buffers() if b is not None]

    assert addresses(echoed) == addresses(table)
    # float32 stays float32, text stays text: the same buffers come back.
    data = pa.table({"f": pa.array([0.5, 1.5] * 50_000, pa.float32()), "t": [f"row {i}" for i in range(100_000)]})
    small, report = mb.optimize(data, strings_to_dictionary=False)
    assert addresses(small) == addresses(data)
    assert report["bytes_saved"] == 0


def test_streaming_holds_memory_once(big_csv):
    """Holding every batch of a ~40 MB CSV costs about the batches' own size, not twice it."""
    before = mb.memory_stats().process_mb
    batches = list(mb.stream(big_csv, chunk_size=50_000, optimize=False))
    held = sum(b.nbytes for b in batches) / 2**20
    grown = mb.memory_stats().process_mb - before
    assert sum(b.num_rows for b in batches) == 600_000
    assert grown < held * 1.5 + 64, (grown, held)


def test_gil_is_released_while_decoding(big_csv):
    ticks = 0
    stop = threading.Event()

    def spin():
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0)

    t = threading.Thread(target=spin)
    t.start()
    try:
        start = time.perf_counter()
        rows = sum(b.num_rows for b in mb.stream(big_csv, chunk_size=100_000))
        elapsed = time.perf_counter() - start
    finally:
        stop.set()
        t.join()
    assert rows == 600_000
    # A thread that could not run while Rust decoded would tick a handful of times.
    assert ticks > 1000 * elapsed, (ticks, elapsed)


def test_errors(tmp_path, small_csv):
    with pytest.raises(mb.FileAccessError) as e:
        mb.preview(tmp_path / "missing.csv")
    assert isinstance(e.value, OSError)
    assert "missing.csv" in str(e.value)
    fake = tmp_path / "fake.parquet"
    fake.write_text("id,name\n1,a\n")
    with pytest.raises(mb.FileFormatError, match="not a valid Parquet file"):
        mb.open(fake)
    odd = tmp_path / "data.xyz"
    odd.write_text("x")
    with pytest.raises(mb.FileFormatError, match="unsupported file type"):
        list(mb.stream(odd))
    with pytest.raises(mb.Error, match="no column named"):
        list(mb.stream(small_csv, columns=["nope"]))
    with pytest.raises(ValueError, match="chunk size"):
        mb.stream(small_csv, chunk_size=0)
    with pytest.raises(ValueError, match="memory_limit_mb"):
        mb.stream(small_csv, memory_limit_mb=-1)
    with pytest.raises(TypeError):
        mb.stream(12345)
    wide = tmp_path / "wide.csv"
    wide.write_text("a,b\n" + "1," + "x" * 300_000 + "\n")
    with pytest.raises(mb.MemoryLimitError):
        list(mb.stream(wide, memory_limit_mb=1))
    bad = tmp_path / "bad.csv"
    bad.write_text("n\n" + "1\n" * 12_000 + "oops\n")
    with pytest.raises(mb.FileFormatError, match="line 12002"):
        list(mb.stream(bad, chunk_size=5))
