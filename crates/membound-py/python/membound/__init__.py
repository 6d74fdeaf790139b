"""membound: keep a data-heavy Python program inside its memory budget.

Built from the Rust crates of the membound workspace (one implementation for the Rust API, the
``membound`` command-line tool and this package):

- :func:`stream`, :func:`open`, :func:`preview` read CSV/TSV(.gz), Parquet, Arrow IPC/Feather
  and Excel/ODS files in bounded memory as ``pyarrow`` record batches, without copying them
  across the boundary (Arrow C stream interface).
- :func:`optimize` and :func:`optimize_array` shrink tables and NumPy arrays losslessly;
  :func:`release_memory` gives freed memory back to the OS.
- :func:`memory_stats` and :class:`MemoryMonitor` watch process and system memory (cgroup v2
  limits and PSI included) and call back on pressure changes.
- :func:`profile` profiles the memory of a block of code and tells a leak from churn.
- :class:`CompressedCache` and :class:`CacheService` cache values and sentence embeddings
  compressed in memory and on disk.

The GIL is released while files are read and decoded, values compressed and caches read.
Errors are :class:`Error` and its subclasses (see :mod:`membound._errors`).
"""

from __future__ import annotations

from ._errors import (
    CacheError,
    Error,
    FileAccessError,
    FileFormatError,
    MemoryLimitError,
    MonitorError,
    ProfileError,
)
from ._native import (
    BatchStream,
    CacheService,
    CompressedCache,
    MemoryMonitor,
    MemoryStats,
    PressureEvent,
    Profile,
    ProfileResult,
    __version__,
    cache_key_for,
    data_hash_for,
    memory_stats,
    open,
    optimize,
    optimize_array,
    preview,
    profile,
    release_memory,
    stream,
)

__all__ = [
    "BatchStream",
    "CacheError",
    "CacheService",
    "CompressedCache",
    "Error",
    "FileAccessError",
    "FileFormatError",
    "MemoryLimitError",
    "MemoryMonitor",
    "MemoryStats",
    "MonitorError",
    "PressureEvent",
    "Profile",
    "ProfileError",
    "ProfileResult",
    "__version__",
    "cache_key_for",
    "data_hash_for",
    "memory_stats",
    "open",
    "optimize",
    "optimize_array",
    "preview",
    "profile",
    "release_memory",
    "stream",
]
