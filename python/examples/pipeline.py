"""The original guide's pipeline with the membound package.

Streams a large CSV of texts in chunks while a monitor watches memory, caches each chunk's
sentence embeddings (the real all-MiniLM-L6-v2 vectors of testdata/embeddings stand in for the
model) and reads them back, profiles the whole run and writes the HTML report.

    python python/examples/pipeline.py                 # generates a ~15 MB CSV in a temp dir
    python python/examples/pipeline.py --csv texts.csv --out results/

The CSV needs a ``text`` column. Run it twice with the same ``--out``: the second run finds
every chunk's embeddings in the cache.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import membound as mb

REPO = Path(__file__).resolve().parents[2]
EMBEDDINGS = REPO / "testdata" / "embeddings"
MODEL = {"name": "sentence-transformers/all-MiniLM-L6-v2", "params": {"normalize": "true"}}


class StandInModel:
    """Gives each known text its real MiniLM embedding (a sentence-transformers model would
    compute them; the pipeline around it is the same)."""

    def __init__(self) -> None:
        vectors = np.load(EMBEDDINGS / "minilm-5k.npy")
        with (EMBEDDINGS / "texts-5k.jsonl").open(encoding="utf-8") as f:
            texts = [json.loads(line) for line in f if line.strip()]
        self.index = {t: i for i, t in enumerate(texts)}
        self.vectors = vectors
        self.texts = texts
        self.calls = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        rows = [self.index.get(t, hash(t) % len(self.vectors)) for t in texts]
        return self.vectors[rows]


def write_texts_csv(path: Path, texts: list[str], rows: int) -> None:
    """A CSV of ``rows`` texts (the 5,000 real ones, each block of 5,000 rows in another order)
    with an id and a source column."""
    sources = ["docs", "changelog", "manual", "faq"]
    with path.open("w", encoding="utf-8") as f:
        f.write("id,source,text\n")
        for i in range(rows):
            block, j = divmod(i, len(texts))
            text = texts[(j * 7 + block * 1013) % len(texts)].replace('"', '""')
            f.write(f'{i},{sources[i % 4]},"{text}"\n')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, help="CSV with a text column (default: generated)")
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the generated CSV")
    parser.add_argument("--out", type=Path, help="folder for the cache and the report (default: a temp dir)")
    parser.add_argument("--chunk-size", type=int, default=10_000)
    parser.add_argument("--memory-limit-mb", type=float, default=500)
    args = parser.parse_args()

    out = args.out or Path(tempfile.mkdtemp(prefix="membound-pipeline-"))
    out.mkdir(parents=True, exist_ok=True)
    model = StandInModel()
    csv = args.csv
    if csv is None:
        csv = out / "texts.csv"
        write_texts_csv(csv, model.texts, args.rows)
    print(f"input: {csv} ({csv.stat().st_size / 2**20:.1f} MB)")

    pressure_events: list[str] = []

    def on_pressure(event: mb.PressureEvent) -> None:
        # Runs on the monitor's thread: record, and let the main loop react.
        pressure_events.append(f"{event.previous} -> {event.level} at {event.stats.process_mb:.0f} MB")

    cache = mb.CacheService(out / "embeddings-cache", precision="f32", max_cache_size_gb=1.0, hot_tier_mb=64)
    monitor = mb.MemoryMonitor(interval_ms=200, on_pressure=on_pressure)
    started = time.perf_counter()
    rows = hits = saved = 0
    with mb.profile("pipeline", interval_ms=50) as session, monitor:
        stream = mb.stream(csv, chunk_size=args.chunk_size, memory_limit_mb=args.memory_limit_mb, columns=["text"])
        for batch in stream:
            texts = batch.column("text").to_pylist()
            key = mb.cache_key_for(texts, MODEL)
            data_hash = mb.data_hash_for(texts)
            found = cache.get_cached_embeddings_checked(key, MODEL, data_hash)
            if found is None:
                vectors = model.encode(texts)
                cache.save_embeddings_compressed(key, vectors, texts, MODEL, data_hash)
                saved += 1
                # Read back what was stored: bit-identical at f32.
                back, back_texts = cache.get_cached_embeddings_fast(key)
                assert np.array_equal(back, vectors) and back_texts == texts
            else:
                vectors, _ = found
                hits += 1
            rows += batch.num_rows
            if monitor.level == "high":
                mb.release_memory()
            meta = stream.metadata
            if meta["index"] % 10 == 0:
                print(
                    f"chunk {meta['index']:4d}: {rows:8d} rows, {100 * meta['progress']:5.1f} %, "
                    f"RSS {meta['rss_mb']:.0f} MB, level {monitor.level}"
                )
    elapsed = time.perf_counter() - started

    result = session.result
    report = out / "pipeline-profile.html"
    result.to_html(report)
    stats = cache.get_enhanced_cache_stats()
    peak = monitor.peak()
    print(f"\n{rows} rows in {elapsed:.1f} s: {saved} chunks embedded and cached, {hits} read from the cache")
    print(
        f"embeddings cache: {stats['entry_count']} entries, {stats['matrix_raw_bytes'] / 2**20:.1f} MB of float32 "
        f"stored in {stats['stored_bytes'] / 2**20:.1f} MB (ratio {stats['embeddings_compression_ratio']:.2f}), "
        f"hit rate {100 * stats['hit_rate']:.0f} %"
    )
    print(f"monitor: peak RSS {peak.process_mb:.0f} MB, {len(monitor.history())} samples, pressure changes: {pressure_events or 'none'}")
    print(
        f"profile: peak {result.peak_memory_mb:.0f} MB, growth {result.memory_growth_mb:+.0f} MB, "
        f"leak detected: {result.memory_leak_detected}"
    )
    for line in result.recommendations:
        print(f"  - {line}")
    print(f"report: {report}")


if __name__ == "__main__":
    main()
