"""The exceptions membound raises.

Every error of the library is a :class:`membound.Error`; the subclasses say what kind of thing
went wrong. Messages are those of the ``membound`` command-line tool (they name the file, and
the line and column where known). A bad argument (wrong type, value out of range) is a plain
:class:`TypeError` or :class:`ValueError` instead.
"""

from __future__ import annotations

__all__ = [
    "Error",
    "FileFormatError",
    "FileAccessError",
    "MemoryLimitError",
    "CacheError",
    "ProfileError",
    "MonitorError",
]


class Error(Exception):
    """Base class of every membound error."""


class FileFormatError(Error):
    """A file's content is not what its format promises: unsupported extension, wrong magic
    bytes, malformed CSV/Parquet/Arrow/workbook data, a value that does not fit its column's
    type."""


class FileAccessError(Error, OSError):
    """A path cannot be opened, read or written (missing file, directory, FIFO, permissions).
    Also an :class:`OSError`."""


class MemoryLimitError(Error):
    """The work would exceed the memory limit (a record, a batch or a whole file that does not
    fit): raise ``memory_limit_mb`` or stream the file in chunks."""


class CacheError(Error):
    """A compressed-cache or embeddings-cache operation failed (disk full, I/O error, a value
    of another kind under the key)."""


class ProfileError(Error):
    """A profiling session could not be started, stopped or reported."""


class MonitorError(Error):
    """Memory figures are unavailable, or the monitor thread could not start."""
