"""Streaming one partition's inputs into compacted files, reading the next file while writing the last.

Inputs are read in groups sized by the bytes per event seen so far (the first file alone), so a
group stays within `max_events`; an output file is cut whenever the next group would push it past
`max_events` events or `target_bytes` input bytes. Each output file is sorted, encoded and created
on one background thread while the caller's thread reads the next one's inputs (polars reads on
its own threads and pyarrow, numpy and the store release the GIL, so the two overlap on two
cores). At most one output file is in flight, so memory stays bounded by about two files' events.
"""

from __future__ import annotations

import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from eventlog.compaction.merge import merge_tables, read_tables
from eventlog.core.manifest import CompactedFile
from eventlog.core.store import Store

__all__ = ["write_partition"]


class _Writer:
    """Writes compacted files one at a time on a background thread; finished ones go to `written`."""

    def __init__(self, store: Store, directory: str, version: int, written: list[CompactedFile]) -> None:
        self.store = store
        self.directory = directory
        self.version = version
        self.written = written
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eventlog-compact")
        self.pending: Future[CompactedFile] | None = None

    def submit(self, tables: list[Any], sources: list[str]) -> None:
        """Start writing one file, after the previous one is done (one in flight bounds memory)."""
        self.wait()
        self.pending = self.pool.submit(self._write, tables, sources)

    def wait(self) -> None:
        """Wait for the file in flight; re-raises its error."""
        pending, self.pending = self.pending, None
        if pending is not None:
            self.written.append(pending.result())

    def close(self) -> None:
        """Stop the thread after the file in flight; it goes to `written` if it was created (its error is
        dropped: `close` runs when the caller is already raising one, or after `wait`)."""
        try:
            self.wait()
        except Exception:
            pass
        finally:
            self.pool.shutdown(wait=True)

    def _write(self, tables: list[Any], sources: list[str]) -> CompactedFile:
        data, events, runs = merge_tables(tables, sources)
        path = f"{self.directory}/{self.version:020d}-{uuid.uuid4().hex}.parquet"
        self.store.create(path, data)
        return CompactedFile(path=path, events=events, bytes=len(data), runs=runs)


def write_partition(
    store: Store,
    directory: str,
    version: int,
    inputs: list[tuple[str, int]],
    *,
    max_events: int,
    target_bytes: int,
    written: list[CompactedFile],
) -> None:
    """Merge `inputs` ((path, bytes) pairs) into compacted files under `directory`, streaming.

    Every file created is appended to `written` as soon as it exists, also when a later one
    fails, so the caller can delete them all (none is visible before a manifest names it).
    """
    writer = _Writer(store, directory, version, written)
    try:
        _stream(store, inputs, writer, max_events, target_bytes)
        writer.wait()
    finally:
        writer.close()


def _stream(store: Store, inputs: list[tuple[str, int]], writer: _Writer, max_events: int, target_bytes: int) -> None:
    tables: list[Any] = []
    sources: list[str] = []
    rows = size = 0
    seen_rows = seen_bytes = 0
    i = 0
    while i < len(inputs):
        budget = target_bytes - size
        if seen_rows:
            budget = min(budget, int((max_events - rows) * seen_bytes / seen_rows))
        if tables and inputs[i][1] > budget:  # the next file does not fit: write what we have
            writer.submit(tables, sources)
            tables, sources, rows, size = [], [], 0, 0
            continue
        group, nbytes = _group(inputs, i, budget if seen_rows else 0)
        i += len(group)
        table = read_tables(store, group)
        seen_rows += table.num_rows
        seen_bytes += nbytes
        if tables and rows + table.num_rows > max_events:
            writer.submit(tables, sources)
            tables, sources, rows, size = [], [], 0, 0
        tables.append(table)
        sources.extend(group)
        rows += table.num_rows
        size += nbytes
    if tables:
        writer.submit(tables, sources)


def _group(inputs: list[tuple[str, int]], start: int, budget: int) -> tuple[list[str], int]:
    """The paths from `start` on whose bytes fit in `budget` (at least one), and their bytes."""
    paths, nbytes = [inputs[start][0]], inputs[start][1]
    for path, size in inputs[start + 1 :]:
        if nbytes + size > budget:
            break
        paths.append(path)
        nbytes += size
    return paths, nbytes
