"""python/examples/pipeline.py runs end to end (small sizes), and a second run hits the cache."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_pipeline_example(tmp_path):
    cmd = [sys.executable, str(REPO / "python/examples/pipeline.py"), "--out", str(tmp_path), "--rows", "12000", "--chunk-size", "3000"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "12000 rows" in first.stdout and "4 chunks embedded and cached" in first.stdout
    assert (tmp_path / "pipeline-profile.html").read_text().count("<svg") >= 1
    second = subprocess.run(cmd + ["--csv", str(tmp_path / "texts.csv")], capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert "4 read from the cache" in second.stdout
