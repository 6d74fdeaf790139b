"""memory_stats and MemoryMonitor: figures, history, pressure callbacks from the monitor thread."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import membound as mb


def test_memory_stats_figures():
    s = mb.memory_stats()
    assert s.process_mb > 1
    assert s.process_rss_bytes > 1 << 20
    assert 0 <= s.system_used_percent <= 100
    assert s.level in ("low", "medium", "high")
    assert s.is_high_pressure == (s.level == "high")
    assert s.cgroup_limit_mb is None or s.cgroup_limit_mb > 0
    assert s.psi_some_avg10 is None or s.psi_some_avg10 >= 0
    d = s.to_dict()
    assert d["process_rss_bytes"] == s.process_rss_bytes
    assert "MemoryStats(" in repr(s)


def test_monitor_history_and_peak():
    with mb.MemoryMonitor(interval_ms=10) as mon:
        assert mon.is_running
        time.sleep(0.15)
        history = mon.history()
    assert not mon.is_running
    assert len(history) >= 3
    assert history == sorted(history, key=lambda s: s.timestamp)
    assert mon.peak().process_mb >= max(h.process_mb for h in history) - 1e-9
    samples, _changes = mon.counters()
    assert samples >= len(history)


def test_pressure_callback_fires_on_the_monitor_thread():
    rss = mb.memory_stats().process_mb
    events = []
    fired = threading.Event()

    def on_pressure(event):
        events.append((event, threading.get_ident()))
        fired.set()

    mon = mb.MemoryMonitor(
        interval_ms=10,
        on_pressure=on_pressure,
        process_medium_mb=rss + 150,
        process_high_mb=rss + 100_000,
        system_medium_percent=100,
        system_high_percent=100,
    )
    mon.start()
    try:
        assert mon.level == "low"
        ballast = np.ones(300 * 2**20 // 8)  # 300 MB, touched
        assert fired.wait(10), "no pressure event within 10 s"
        del ballast
    finally:
        mon.stop()
    event, thread = events[0]
    assert thread != threading.get_ident()
    assert (event.previous, event.level) == ("low", "medium")
    assert event.stats.process_mb >= rss + 150
    assert mon.counters()[1] >= 1


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_callback_errors_do_not_stop_the_monitor():
    calls = []

    def bad(event):
        calls.append(event)
        raise RuntimeError("boom")

    mon = mb.MemoryMonitor(interval_ms=5, on_pressure=bad, system_medium_percent=0, system_high_percent=100)
    with mon:
        time.sleep(0.05)
        mon.set_thresholds(system_medium_percent=99.9)
        time.sleep(0.05)
    assert calls  # it was called, raised, and the monitor carried on


def test_monitor_bad_arguments():
    with pytest.raises(ValueError):
        mb.MemoryMonitor(interval_ms=0)
    with pytest.raises(ValueError):
        mb.MemoryMonitor(process_medium_mb=5000, process_high_mb=100)
    with pytest.raises(TypeError):
        mb.MemoryMonitor(on_pressure=42)
