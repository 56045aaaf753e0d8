"""Rows of files already read, kept in memory so that a long-lived reader reads each file once.

A store's data files never change once written: a raw segment and a compacted file are each
created once under a unique name, and only ever deleted (by gc, after readers stopped needing
them). So the rows a reader took from a file stay right for as long as a snapshot lists that
file. The dashboard folds `runs()` again whenever the store changed; during a sweep of 10,000
short runs that meant re-reading 10,000 raw segments (1.3 s of a 1.8 s fold) for every refresh.
A `FileRowsCache` reads only the files the last snapshot did not list, and drops the rows of
files no longer listed (segments that a compaction covered, compacted files merged again).

Only small snapshots are held (under `SMALL_SCAN_BYTES` of rows, where `runs()` reads everything
into memory anyway); a bigger one is left to the caller's own scan.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import polars as pl

from query.scan import SMALL_SCAN_BYTES, row_bytes, scan_snapshot, scanned_name
from query.snapshot import Snapshot

__all__ = ["FileRowsCache"]

_FILE = "__file"


class FileRowsCache:
    """The rows (some columns) of a snapshot's files, reading only files not read before.

    Args:
        columns: the columns to keep of each file's rows.
        max_bytes: snapshots with more bytes of rows than this are not held (see `query.scan.row_bytes`).

    Attributes:
        files_read: files read so far (tests and benchmarks check that files are read once).
    """

    def __init__(self, columns: list[str], *, max_bytes: int = SMALL_SCAN_BYTES) -> None:
        self.columns = list(columns)
        self.max_bytes = max_bytes
        self.files_read = 0
        self._frame: pl.DataFrame | None = None
        self._names: set[str] = set()
        self._lock = threading.Lock()

    def rows(self, snapshot: Snapshot) -> pl.DataFrame | None:
        """The rows of every file of `snapshot`, in no particular order; None if it is too big to hold.

        Raises:
            DamagedFileError: a new file cannot be read (see `query.damage`).
        """
        if row_bytes(snapshot.files) >= self.max_bytes:
            self.clear()
            return None
        store = snapshot.store
        wanted = {scanned_name(store, f.path): f for f in snapshot.files}
        with self._lock:
            new = [info for name, info in wanted.items() if name not in self._names]
            kept = self._frame
            if kept is not None and not self._names <= wanted.keys():  # files gone: covered, merged again, collected
                kept = kept.filter(pl.col(_FILE).is_in(list(wanted)))
            if new or kept is None:
                fresh = scan_snapshot(replace(snapshot, files=new), file_column=_FILE).select([*self.columns, _FILE])
                # each row's file as a category: 4 bytes a row, where the name itself took ~100
                read = fresh.with_columns(pl.col(_FILE).cast(pl.Categorical)).collect(engine="streaming")
                kept = read if kept is None else pl.concat([kept, read], how="vertical_relaxed")
                self.files_read += len(new)
            self._frame, self._names = kept, set(wanted)
            return kept.drop(_FILE)

    def clear(self) -> None:
        """Forget every row held."""
        with self._lock:
            self._frame, self._names = None, set()
