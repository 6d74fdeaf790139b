"""Shared fixtures: the repository's testdata/ and generated files."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TESTDATA = REPO / "testdata"
CONFORMANCE = TESTDATA / "conformance"
EMBEDDINGS = TESTDATA / "embeddings"


def expected_files() -> list[dict]:
    """The conformance files and what pyarrow reads from them (testdata/conformance/expected.json)."""
    return json.loads((CONFORMANCE / "expected.json").read_text())["files"]


def read_texts(path: Path) -> list[str]:
    """The texts of a JSONL file (one JSON string per line)."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="session")
def minilm():
    """The real all-MiniLM-L6-v2 embeddings (5,000 x 384 float32) and their texts."""
    import numpy as np

    emb = np.load(EMBEDDINGS / "minilm-5k.npy")
    texts = read_texts(EMBEDDINGS / "texts-5k.jsonl")
    assert emb.shape == (len(texts), 384)
    return emb, texts


def write_csv(path: Path, rows: int, seed: int = 7) -> Path:
    """A CSV of the kind the application streams: id, category, score, text."""
    rng = random.Random(seed)
    cats = ["news", "sports", "science", "arts", "tech"]
    with path.open("w", encoding="utf-8") as f:
        f.write("id,category,score,text\n")
        for i in range(rows):
            words = " ".join(rng.choice(["alpha", "beta", "gamma", "delta", "memory"]) for _ in range(8))
            f.write(f'{i},{cats[i % 5]},{rng.randint(0, 100) / 4},"{words}, {i}"\n')
    return path


@pytest.fixture(scope="session")
def small_csv(tmp_path_factory) -> Path:
    return write_csv(tmp_path_factory.mktemp("csv") / "small.csv", 25_000)


@pytest.fixture(scope="session")
def big_csv(tmp_path_factory) -> Path:
    """About 40 MB of CSV."""
    return write_csv(tmp_path_factory.mktemp("csv") / "big.csv", 600_000, seed=11)
