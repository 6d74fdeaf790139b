"""The Python package against its peers: `cargo xtask bench --only python`.

Each case runs alone in a fresh process (``case NAME``) and prints one JSON line: the wall
seconds of the timed work (imports and interpreter start-up excluded), what it read, and the
process's peak RSS. ``prepare`` saves the embeddings entry the ``fast-get`` case reads.
``all`` runs everything standalone: prepare in a temporary directory, then the cases in turn
(interleaved rounds) in child processes, and prints one JSON object of medians.

    python bench_python.py all --csv bench.csv --npy minilm-5k.npy --jsonl texts-5k.jsonl --rounds 3
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
CASES = ("mb-stream", "pyarrow-open-csv", "pandas-chunks", "fast-get", "numpy-jsonl")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def read_texts(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def case_mb_stream(a: argparse.Namespace) -> dict:
    import membound as mb

    t = time.perf_counter()
    rows = 0
    for b in mb.stream(a.csv, chunk_size=10_000):
        rows += b.num_rows
    return {"wall": time.perf_counter() - t, "rows": rows}


def case_pyarrow(a: argparse.Namespace) -> dict:
    import pyarrow.csv as pc

    t = time.perf_counter()
    reader = pc.open_csv(
        a.csv,
        read_options=pc.ReadOptions(block_size=1 << 20),
        parse_options=pc.ParseOptions(newlines_in_values=True),
    )
    rows = 0
    while True:
        try:
            rows += reader.read_next_batch().num_rows
        except StopIteration:
            break
    return {"wall": time.perf_counter() - t, "rows": rows}


def case_pandas(a: argparse.Namespace) -> dict:
    import pandas as pd

    t = time.perf_counter()
    rows = 0
    for c in pd.read_csv(a.csv, chunksize=10_000):
        rows += len(c)
    return {"wall": time.perf_counter() - t, "rows": rows}


def case_fast_get(a: argparse.Namespace) -> dict:
    import membound as mb
    import numpy  # noqa: F401  (as in the numpy case: imported before the clock starts)

    t = time.perf_counter()
    svc = mb.CacheService(a.cache_dir, precision="f32")
    got = svc.get_cached_embeddings_fast(a.key)
    wall = time.perf_counter() - t
    if got is None:
        raise SystemExit(f"fast-get: no entry {a.key} in {a.cache_dir}")
    emb, texts = got
    return {"wall": wall, "rows": len(texts), "shape": list(emb.shape)}


def case_numpy_jsonl(a: argparse.Namespace) -> dict:
    import numpy as np

    t = time.perf_counter()
    emb = np.load(a.npy)
    texts = read_texts(a.jsonl)
    return {"wall": time.perf_counter() - t, "rows": len(texts), "shape": list(emb.shape)}


RUN = {
    "mb-stream": case_mb_stream,
    "pyarrow-open-csv": case_pyarrow,
    "pandas-chunks": case_pandas,
    "fast-get": case_fast_get,
    "numpy-jsonl": case_numpy_jsonl,
}


def prepare(a: argparse.Namespace) -> dict:
    """Saves the embeddings + texts (f32) under their content key; checks a fast get."""
    import membound as mb
    import numpy as np

    emb = np.load(a.npy)
    texts = read_texts(a.jsonl)
    key = mb.cache_key_for(texts, MODEL)
    svc = mb.CacheService(a.cache_dir, precision="f32")
    svc.save_embeddings_compressed(key, emb, texts, MODEL, mb.data_hash_for(texts))
    got = svc.get_cached_embeddings_fast(key)
    if got is None or not np.array_equal(got[0], emb) or got[1] != texts:
        raise SystemExit("prepare: the cached entry does not read back equal")
    return {"key": key, "shape": list(emb.shape), "texts": len(texts)}


def run_child(argv: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *argv], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_all(a: argparse.Namespace) -> dict:
    tmp = tempfile.mkdtemp(prefix="membound-pybench-")
    try:
        common = ["--csv", a.csv, "--npy", a.npy, "--jsonl", a.jsonl, "--cache-dir", tmp]
        key = run_child(["prepare", *common])["key"]
        walls: dict[str, list[float]] = {c: [] for c in CASES}
        rss: dict[str, list[float]] = {c: [] for c in CASES}
        rows: dict[str, int] = {}
        for _ in range(a.rounds):
            for c in CASES:
                r = run_child(["case", c, *common, "--key", key])
                walls[c].append(r["wall"])
                rss[c].append(r["peak_rss_mb"])
                rows[c] = r["rows"]
        return {
            c: {
                "wall_s": statistics.median(walls[c]),
                "peak_rss_mb": statistics.median(rss[c]),
                "rows": rows[c],
            }
            for c in CASES
        } | {"rounds": a.rounds}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=("case", "prepare", "all"))
    p.add_argument("case", nargs="?", choices=CASES)
    p.add_argument("--csv", required=True)
    p.add_argument("--npy", required=True)
    p.add_argument("--jsonl", required=True)
    p.add_argument("--cache-dir")
    p.add_argument("--key")
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    if a.mode == "all":
        result = run_all(a)
    elif a.mode == "prepare":
        result = prepare(a)
    else:
        if a.case is None:
            p.error("case needs a NAME")
        result = RUN[a.case](a)
        result["case"] = a.case
        result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
