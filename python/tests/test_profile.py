"""profile(): whole-process RSS, a leak in Python code flagged, churn not; reports."""

from __future__ import annotations

import json
import time

import pytest

import membound as mb


def test_leak_in_python_code_is_flagged():
    kept = []
    with mb.profile("leaky", interval_ms=10) as p:
        for _ in range(60):
            kept.append(bytearray(2 << 20))  # 2 MB kept each step: 120 MB, steadily
            time.sleep(0.01)
    r = p.result
    assert r.memory_leak_detected, r.leak_reason
    assert r.leak_rate_mb_per_hour > 0
    assert r.peak_memory_mb >= r.start_memory_mb + 100
    assert r.memory_growth_mb > 80
    del kept


def test_churn_is_not_a_leak():
    with mb.profile("churn", interval_ms=10) as p:
        for _ in range(60):
            block = bytearray(20 << 20)  # 20 MB allocated and freed each step
            block[::4096] = b"x" * len(block[::4096])
            del block
            time.sleep(0.01)
    r = p.result
    assert not r.memory_leak_detected, r.leak_reason
    assert r.leak_rate_mb_per_hour == 0


def test_reports(tmp_path):
    p = mb.profile("report", interval_ms=5, memory_budget_mb=1)
    p.start()
    assert p.is_running
    data = [bytes(1 << 20) for _ in range(20)]
    time.sleep(0.05)
    r = p.stop()
    assert not p.is_running and p.result.session_name == "report"
    assert len(r.snapshots) >= 3
    assert r.recommendations  # a 1 MB budget is exceeded
    doc = json.loads(r.to_json())
    assert doc["session_name"] == "report" and doc["peak_memory_mb"] == pytest.approx(r.peak_memory_mb)
    html_path = tmp_path / "report.html"
    html = r.to_html(html_path)
    assert "<svg" in html and html_path.read_text() == html
    assert r.to_dict()["memory_leak_detected"] == r.memory_leak_detected
    assert "report" in r.summary()
    del data


def test_profile_errors(tmp_path):
    p = mb.profile("x")
    with pytest.raises(RuntimeError, match="has not finished"):
        p.result
    with pytest.raises(mb.ProfileError, match="no running profiling session"):
        p.stop()
    with pytest.raises(ValueError):
        mb.profile("x", interval_ms=0)
    with p:
        with pytest.raises(mb.ProfileError, match="already running"):
            p.start()
    with pytest.raises(mb.FileAccessError):
        p.result.to_html(tmp_path / "missing-dir" / "r.html")
