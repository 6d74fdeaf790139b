"""Type stubs of the membound package (the compiled part is ``membound._native``)."""

from __future__ import annotations

import os
from types import TracebackType
from typing import Any, Callable, Iterator, Literal, Mapping, Sequence, Union

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from ._errors import (
    CacheError as CacheError,
    Error as Error,
    FileAccessError as FileAccessError,
    FileFormatError as FileFormatError,
    MemoryLimitError as MemoryLimitError,
    MonitorError as MonitorError,
    ProfileError as ProfileError,
)

__version__: str

PathLike = Union[str, "os.PathLike[str]"]
Level = Literal["low", "medium", "high"]
ModelInfo = Union[str, Mapping[str, Any]]

# --- streaming -------------------------------------------------------------------------------

class BatchStream(Iterator[pa.RecordBatch]):
    """Chunks of a file as ``pyarrow.RecordBatch`` objects (see :func:`stream`).

    Iterating reads and decodes the next chunk without the GIL. The batches share the memory
    the Rust reader allocated (no copy). With ``optimize=True`` their schema is the optimised
    one chosen from the first chunk; it only ever widens, and ``metadata["widenings"]`` says so.
    """

    def __iter__(self) -> BatchStream: ...
    def __next__(self) -> pa.RecordBatch: ...
    @property
    def path(self) -> os.PathLike[str]:
        """The file being streamed."""
    @property
    def metadata(self) -> dict[str, Any] | None:
        """The last chunk's index, start_row, rows, bytes, source_bytes_read,
        source_bytes_total, progress (0-1), rss_mb, elapsed_s, chunk_size and widenings; None
        before the first chunk."""
    @property
    def peak_rss_mb(self) -> float:
        """Highest process RSS seen after a chunk, MB."""
    def close(self) -> None:
        """Stops the stream now: the file is closed and the read-ahead thread ends."""
    def __enter__(self) -> BatchStream: ...
    def __exit__(self, *args: object) -> bool: ...

def stream(
    path: PathLike,
    chunk_size: int = 10_000,
    memory_limit_mb: float | None = None,
    columns: Sequence[str] | None = None,
    optimize: bool = True,
    *,
    sheet: str | None = None,
    limit: int | None = None,
    delimiter: str | None = None,
    header: bool = True,
) -> BatchStream:
    """Streams a table file in chunks of rows with bounded memory.

    Formats come from the extension, checked against the content: ``.csv``, ``.tsv`` (and
    ``.gz`` of either), ``.parquet``, ``.arrow``/``.feather``/``.ipc``, ``.arrows``, ``.xlsx``,
    ``.xlsm``, ``.xlsb``, ``.xls``, ``.ods``.

    Args:
        path: the file.
        chunk_size: rows per chunk (smaller under memory pressure).
        memory_limit_mb: the stream stays under this plus about 40 MB, or raises
            :class:`MemoryLimitError` (default 2000).
        columns: read only these columns, in this order.
        optimize: shrink each chunk's types losslessly (one schema that only widens).
        sheet: the workbook sheet (default: the first).
        limit: stop after this many rows.
        delimiter: CSV field delimiter (default: from the extension).
        header: whether the CSV's first record names the columns.

    Raises:
        FileAccessError: the file cannot be opened.
        FileFormatError: unsupported type, wrong content, malformed data (also while iterating).
        MemoryLimitError: a record, batch or column does not fit the limit.
        ValueError: a setting out of range.
    """

def open(
    path: PathLike,
    chunk_size: int = 10_000,
    memory_limit_mb: float | None = None,
    columns: Sequence[str] | None = None,
    optimize: bool = False,
    *,
    sheet: str | None = None,
    limit: int | None = None,
    delimiter: str | None = None,
    header: bool = True,
) -> pa.RecordBatchReader:
    """Opens a table file as a ``pyarrow.RecordBatchReader`` (one schema for every batch).

    Same arguments as :func:`stream`. With ``optimize=True`` the schema is the optimised one
    of the first chunk, and a later chunk that would widen it ends the reader with an error.
    Errors while reading surface as pyarrow exceptions carrying membound's message (the Arrow
    C stream interface carries only a message); opening errors are membound exceptions.
    """

def preview(
    path: PathLike,
    rows: int = 1000,
    columns: Sequence[str] | None = None,
    optimize: bool = True,
    memory_limit_mb: float | None = None,
    *,
    sheet: str | None = None,
    delimiter: str | None = None,
    header: bool = True,
) -> pa.Table:
    """The first ``rows`` rows of a table file as a ``pyarrow.Table``, reading only what they
    need (at most a sixteenth of the memory limit of decoded data: then fewer rows)."""

# --- optimisation ----------------------------------------------------------------------------

def optimize(
    table: Any,
    *,
    tighter: bool = False,
    strings_to_dictionary: bool = True,
    floats_to_f32: bool = True,
) -> tuple[pa.Table, dict[str, Any]]:
    """Shrinks a table's column types losslessly (narrower integers, exact float32,
    dictionaries for repetitive strings).

    Args:
        table: any Arrow table-like: ``pyarrow.Table``/``RecordBatch``/``RecordBatchReader``,
            a polars or pandas DataFrame, anything with ``__arrow_c_stream__``.
        tighter: the memory-pressure preset (more dictionaries, unsigned targets).
        strings_to_dictionary: allow dictionary encoding of strings.
        floats_to_f32: allow float64 -> float32 where every value round-trips.

    Returns:
        ``(table, report)``: a ``pyarrow.Table`` (columns left alone share the input's buffers)
        and a dict with bytes_before, bytes_after, bytes_saved, memory_before_mb,
        memory_after_mb, reduction_fraction, reduction_percent and one entry per column.
    """

def optimize_array(
    array: npt.NDArray[Any], target: npt.DTypeLike | None = None, *, lossy: bool = False
) -> npt.NDArray[Any]:
    """A NumPy integer or float array in the narrowest dtype that holds every value exactly
    (or in ``target``; with ``lossy=True`` rounding like ``astype``, out-of-range values still
    refused). The shape is kept; the result owns a new buffer.

    Raises:
        TypeError: not a numeric array, or an unsupported target dtype.
        ValueError: a value does not fit ``target`` (its index and value are named).
    """

def release_memory(*, gc: bool = True) -> dict[str, Any]:
    """Runs Python's garbage collector (``gc=True``), the purge hooks of membound's caches and
    ``malloc_trim``; returns rss_before_mb, rss_after_mb, released_mb, gc_collected,
    bytes_purged, hooks_run, trimmed and seconds."""

# --- monitoring ------------------------------------------------------------------------------

class MemoryStats:
    """One sample of process and system memory."""

    @property
    def timestamp(self) -> float:
        """Seconds since the Unix epoch."""
    @property
    def process_mb(self) -> float:
        """Resident memory of this process, MB."""
    @property
    def process_rss_bytes(self) -> int:
        """Resident memory of this process, bytes."""
    @property
    def process_virtual_mb(self) -> float:
        """Virtual size of this process, MB."""
    @property
    def system_total_mb(self) -> float:
        """Physical RAM, MB."""
    @property
    def system_available_mb(self) -> float:
        """RAM available without swapping, MB."""
    @property
    def system_used_percent(self) -> float:
        """Used percentage of the cgroup limit when one is set, else of RAM."""
    @property
    def cgroup_limit_mb(self) -> float | None:
        """The cgroup v2 memory limit, MB, or None without one."""
    @property
    def cgroup_usage_mb(self) -> float | None:
        """The cgroup v2 memory usage, MB, or None."""
    @property
    def psi_some_avg10(self) -> float | None:
        """PSI "some avg10" of memory, or None where PSI is unavailable."""
    @property
    def psi_full_avg10(self) -> float | None:
        """PSI "full avg10" of memory, or None."""
    @property
    def level(self) -> Level:
        """The pressure level under the default thresholds."""
    @property
    def is_high_pressure(self) -> bool:
        """Whether the level is "high"."""
    def to_dict(self) -> dict[str, Any]:
        """Every figure (bytes), as ``membound monitor --json`` prints it."""

def memory_stats() -> MemoryStats:
    """Takes one memory sample now (``/proc``, cgroup v2 and PSI on Linux).

    Raises:
        MonitorError: the OS does not report process memory.
    """

class PressureEvent:
    """A change of pressure level."""

    @property
    def previous(self) -> Level:
        """The level before the change."""
    @property
    def level(self) -> Level:
        """The level after the change."""
    @property
    def stats(self) -> MemoryStats:
        """The sample that caused the change."""

class MemoryMonitor:
    """Samples memory on a background thread, keeps a bounded history and calls
    ``on_pressure`` callbacks (on that thread) when the pressure level changes.

    Levels: "medium" from 2 GB of process RSS or 70 % system use, "high" from 4 GB or 85 %
    (the thresholds can be set), with hysteresis on the way down. A context manager: ``with``
    starts and stops it.
    """

    def __init__(
        self,
        interval_ms: float = 500.0,
        on_pressure: Callable[[PressureEvent], object] | None = None,
        *,
        history_capacity: int = 3600,
        process_medium_mb: float | None = None,
        process_high_mb: float | None = None,
        system_medium_percent: float | None = None,
        system_high_percent: float | None = None,
        hysteresis: float = 0.05,
    ) -> None: ...
    def on_pressure(self, callback: Callable[[PressureEvent], object]) -> None:
        """Adds a callback; it runs on the monitor thread, exceptions are reported as
        unraisable."""
    def start(self) -> None:
        """Starts sampling (a first sample is taken before it returns)."""
    def stop(self) -> None:
        """Stops sampling and waits for the thread."""
    @property
    def is_running(self) -> bool:
        """Whether the sampling thread runs."""
    @property
    def level(self) -> Level:
        """The current level (with hysteresis)."""
    def sample_now(self) -> MemoryStats:
        """Takes and records a sample now."""
    def current(self) -> MemoryStats | None:
        """The latest sample."""
    def history(self) -> list[MemoryStats]:
        """The samples kept, oldest first."""
    def peak(self) -> MemoryStats | None:
        """The sample with the highest process RSS."""
    def counters(self) -> tuple[int, int]:
        """(samples taken, level changes published)."""
    def set_thresholds(
        self,
        *,
        process_medium_mb: float | None = None,
        process_high_mb: float | None = None,
        system_medium_percent: float | None = None,
        system_high_percent: float | None = None,
    ) -> None:
        """Changes the thresholds named; the next sample is classified under them."""
    def thresholds(self) -> dict[str, float]:
        """The thresholds in force."""
    def __enter__(self) -> MemoryMonitor: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...

# --- profiling -------------------------------------------------------------------------------

class ProfileResult:
    """What a profiling session found."""

    @property
    def session_name(self) -> str: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def start_memory_mb(self) -> float: ...
    @property
    def end_memory_mb(self) -> float: ...
    @property
    def peak_memory_mb(self) -> float:
        """Highest resident memory of the whole process seen, MB."""
    @property
    def memory_growth_mb(self) -> float: ...
    @property
    def memory_leak_detected(self) -> bool:
        """Whether memory grew in a sustained, significant way (not churn, not one step)."""
    @property
    def leak_rate_mb_per_hour(self) -> float: ...
    @property
    def leak_reason(self) -> str:
        """Why the verdict is what it is."""
    @property
    def recommendations(self) -> list[str]: ...
    @property
    def snapshots(self) -> list[tuple[float, float]]:
        """(elapsed_s, rss_mb) samples, oldest first."""
    def to_json(self) -> str:
        """The result as JSON (the format of ``membound profile --json``)."""
    def to_dict(self) -> dict[str, Any]: ...
    def to_html(self, path: PathLike | None = None) -> str:
        """A self-contained HTML report with an SVG chart; also written to ``path``."""
    def summary(self) -> str: ...

class Profile:
    """A profiling session (see :func:`profile`)."""

    def start(self) -> None: ...
    def stop(self) -> ProfileResult: ...
    @property
    def name(self) -> str: ...
    @property
    def is_running(self) -> bool: ...
    @property
    def result(self) -> ProfileResult:
        """The result; RuntimeError before the session stopped."""
    def __enter__(self) -> Profile: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...

def profile(
    name: str = "session",
    interval_ms: float = 100.0,
    *,
    memory_budget_mb: float | None = None,
    max_snapshots: int = 10_000,
) -> Profile:
    """Profiles the resident memory of the whole process (Python's heap included) while a
    ``with`` block runs, sampling every ``interval_ms`` on a thread that never takes the GIL::

        with membound.profile("load", interval_ms=100) as p:
            work()
        print(p.result.peak_memory_mb, p.result.memory_leak_detected)
    """

# --- caches ----------------------------------------------------------------------------------

CacheValue = Union[bytes, str, npt.NDArray[Any]]

class CompressedCache:
    """A compressed two-tier cache: memory (bounded by the bytes really held) over an optional
    checksummed disk directory.

    Values: ``bytes`` (also bytearray/memoryview), ``str`` and NumPy arrays of bool, integer,
    float or complex dtype (dtype and shape kept; stored as a ``.npy`` image, byte-shuffled);
    ``get`` returns the type stored. Codecs: "lz4", "zstd[:level]", "gzip[:level]",
    "shuffle[:width[:inner]]", "none", "auto".
    """

    def __init__(
        self,
        max_memory_mb: float = 500.0,
        compression: str = "lz4",
        disk_dir: PathLike | None = None,
        ttl_seconds: float | None = None,
        *,
        max_disk_mb: float | None = None,
        sync_writes: bool = True,
        read_only: bool = False,
    ) -> None: ...
    def put(
        self,
        key: str,
        value: CacheValue | bytearray | memoryview,
        ttl_seconds: float | None = None,
        *,
        compression: str | None = None,
    ) -> dict[str, Any]:
        """Stores ``value``; returns what was stored (kind, codec, raw_bytes, stored_bytes,
        checksum, in_memory, on_disk)."""
    def get(self, key: str) -> CacheValue | None:
        """The value, or None on a miss (absent, expired or damaged)."""
    def remove(self, key: str) -> bool: ...
    def contains(self, key: str) -> bool: ...
    def __contains__(self, key: str) -> bool: ...
    def __len__(self) -> int: ...
    def keys(self) -> list[str]: ...
    def clear(self) -> int: ...
    def stats(self) -> dict[str, Any]:
        """hit_rate, compression_ratio, compression_savings_mb, hits and misses per tier,
        entries and bytes per tier, evictions, corrupt entries, ..."""
    def optimize(self) -> dict[str, Any]: ...
    def verify(self) -> dict[str, Any]: ...
    def flush(self) -> int: ...
    @property
    def disk_dir(self) -> os.PathLike[str] | None: ...

class CacheService:
    """The embeddings cache: a float32 matrix and its texts per key, checked against the
    model identity and a data hash, at "f32" (lossless), "f16" or "int8" precision."""

    def __init__(
        self,
        cache_dir: PathLike | None = None,
        precision: Literal["f32", "f16", "int8"] = "f32",
        max_cache_size_gb: float = 5.0,
        *,
        hot_tier_mb: float | None = None,
        compression: str | None = None,
        sync_writes: bool = False,
        read_only: bool = False,
    ) -> None: ...
    def save_embeddings_compressed(
        self,
        key: str,
        embeddings: npt.NDArray[np.float32],
        texts: Sequence[str],
        model_info: ModelInfo,
        data_hash: str,
        *,
        precision: Literal["f32", "f16", "int8"] | None = None,
    ) -> dict[str, Any]:
        """Saves an (n, d) float32 matrix and its n texts; returns the save report (stored,
        rows, dim, raw_bytes, stored_bytes, matrix_ratio, fidelity, evicted, ...)."""
    def get_cached_embeddings_fast(
        self, key: str
    ) -> tuple[npt.NDArray[np.float32], list[str]] | None:
        """The (n, d) float32 matrix and texts under ``key``, or None."""
    def get_cached_embeddings_checked(
        self, key: str, model_info: ModelInfo, data_hash: str
    ) -> tuple[npt.NDArray[np.float32], list[str]] | None:
        """As ``get_cached_embeddings_fast``; an entry of another model or data is a miss."""
    def get_enhanced_cache_stats(self) -> dict[str, Any]: ...
    def optimize_cache(self) -> dict[str, Any]: ...
    def remove(self, key: str) -> bool: ...
    def contains(self, key: str) -> bool: ...
    def __contains__(self, key: str) -> bool: ...
    def __len__(self) -> int: ...
    def keys(self) -> list[str]: ...
    def clear(self) -> None: ...
    @property
    def precision(self) -> Literal["f32", "f16", "int8"]: ...

def cache_key_for(texts: Sequence[str], model_info: ModelInfo) -> str:
    """The deterministic 32-hex-digit key for embedding ``texts`` with ``model_info`` (a model
    name, or a dict with name, revision and params)."""

def data_hash_for(texts: Sequence[str]) -> str:
    """A 32-hex-digit content hash of ``texts``."""
