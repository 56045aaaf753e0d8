"""The runs table of the dashboard: one fold of the runs per snapshot, then filter, sort and page.

Folding the runs reads every event of the experiments (`query.runs`); sorting, filtering and
paging a table of 10,000 rows takes milliseconds. So the fold is kept per experiment filter and
done again only when the store's snapshot of those experiments changed (a new segment, a
compaction) or, while some run is `running`, after `RUNNING_TTL` seconds (a run without new
events turns `crashed` with time alone). A listing of the store per request is what "changed"
costs. The fold itself reads only the files that appeared since the last one: the rows of
files already read are kept (`query.file_rows.FileRowsCache`, for the most recent
`_ROW_CACHES` experiment filters of small enough stores), since data files never change.
"""

from __future__ import annotations

import fnmatch
import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Any

import polars as pl

from eventlog.core.store import Store
from eventlog.errors import InvalidFilterError
from eventlog.ui.encode import frame_payload
from eventlog.ui.runs_filter import filter_table
from query.damage import damage_aware
from query.file_rows import FileRowsCache
from query.runs import FOLD_COLUMNS, fold_runs, snapshot_runs
from query.snapshot import Snapshot, take_snapshot

__all__ = ["MAX_PAGE", "RUNNING_TTL", "RunsCache", "TableEntry", "runs_page"]

#: Seconds a fold with running runs is reused before it is done again (status can change by time).
RUNNING_TTL = 15.0
#: The largest page of rows one request gets.
MAX_PAGE = 5000
#: Columns that every page carries, whatever columns were chosen.
_ALWAYS = ("experiment", "run", "status")
#: Folds kept at once (one per experiment filter the browsers asked for).
_ENTRIES = 16
#: Experiment filters whose files' rows are kept between folds, and the most bytes of Parquet rows
#: each keeps (~1M metric events, ~80 MB in memory; a bigger experiment is read afresh each fold).
_ROW_CACHES = 4
_ROW_CACHE_BYTES = 8 << 20


@dataclass(frozen=True)
class TableEntry:
    """One fold of the runs: the table, the snapshot it came from, and when it was made."""

    table: pl.DataFrame
    fingerprint: str
    made: float


def _fingerprint(snapshot: Snapshot) -> str:
    """A digest of the snapshot's files (path and size): equal digests, equal runs tables."""
    digest = hashlib.blake2b(digest_size=12)
    for info in sorted(snapshot.files, key=lambda f: f.path):
        digest.update(f"{info.path}\0{info.size}\n".encode())
    return digest.hexdigest()


class RunsCache:
    """The latest fold of the runs per experiment filter, renewed when the store changed.

    Args:
        store: the store read.
        clock: the time source (tests inject one).
    """

    def __init__(self, store: Store, *, clock: Any = time.monotonic) -> None:
        self.store = store
        self._clock = clock
        self._entries: dict[str, TableEntry] = {}
        self._rows: dict[str, FileRowsCache] = {}  # least recently used first, as _entries
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.folds = 0  # how many folds were done (tests and /api/info read it)

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def get(self, experiment: str) -> TableEntry:
        """The runs table of the experiments matching `experiment` (a name, `*` or a glob).

        Args:
            experiment: the experiment filter.

        Returns:
            The current fold (made now if the store changed since the last one).

        Raises:
            InvalidFilterError: a malformed experiment filter.
            DamagedFileError: a file of the store cannot be read.
        """
        with self._lock(experiment):
            snapshot = take_snapshot(self.store, experiment)
            fingerprint = _fingerprint(snapshot)
            entry = self._entries.get(experiment)
            now = self._clock()
            fresh = entry is not None and entry.fingerprint == fingerprint
            if fresh and entry is not None and (now - entry.made < RUNNING_TTL or not _has_running(entry.table)):
                return entry
            rows = self._row_cache(experiment).rows(snapshot)
            # a store too big to keep the rows of is folded from the same snapshot, not listed again
            table = _snapshot_runs(self.store, experiment, snapshot=snapshot) if rows is None else fold_runs(rows.lazy())
            self.folds += 1
            entry = TableEntry(table=table, fingerprint=fingerprint, made=now)
            with self._guard:
                _keep_recent(self._entries, experiment, entry, _ENTRIES)
            return entry

    @property
    def files_read(self) -> int:
        """Data files the folds of the kept filters have read (each file once)."""
        with self._guard:
            return sum(cache.files_read for cache in self._rows.values())

    def _row_cache(self, experiment: str) -> FileRowsCache:
        """The rows cache of `experiment`'s files (the least recently used filter's is dropped)."""
        with self._guard:
            cache = self._rows.get(experiment) or FileRowsCache(FOLD_COLUMNS, max_bytes=_ROW_CACHE_BYTES)
            _keep_recent(self._rows, experiment, cache, _ROW_CACHES)
            return cache


#: The runs of a snapshot, naming damaged files as `query.runs` does.
_snapshot_runs = damage_aware(snapshot_runs)


def _keep_recent(kept: dict[str, Any], key: str, value: Any, limit: int) -> None:
    """Store `value` under `key` as the most recently used, dropping the least recently used past `limit`."""
    kept.pop(key, None)
    kept[key] = value
    while len(kept) > limit:
        kept.pop(next(iter(kept)))


def _has_running(table: pl.DataFrame) -> bool:
    return table.height > 0 and bool((table["status"] == "running").any())


def _choose_columns(table: pl.DataFrame, columns: list[str] | None) -> list[str]:
    if not columns:
        return table.columns
    chosen = [c for c in table.columns if c in _ALWAYS or any(fnmatch.fnmatchcase(c, pattern) for pattern in columns)]
    return chosen


def runs_page(
    entry: TableEntry,
    *,
    filter_text: str = "",
    sort: str | None = None,
    offset: int = 0,
    limit: int = 100,
    columns: list[str] | None = None,
) -> dict[str, Any]:
    """One page of a runs table, filtered and sorted, as the JSON payload `/api/runs` returns.

    Args:
        entry: the fold (see `RunsCache.get`).
        filter_text: a text filter (`eventlog.ui.runs_filter`).
        sort: a column to sort by, with a leading `-` for descending (default: experiment, run).
        offset: the first row of the page (after filtering and sorting).
        limit: rows per page (at most `MAX_PAGE`).
        columns: globs choosing the columns sent (default all); experiment, run and status always come.

    Returns:
        `columns`, `types`, `rows` (see `eventlog.ui.encode.frame_payload`) plus `total` (runs in the
        table), `matched` (after the filter), `offset`, `limit`, `sort`, `running` (running runs
        among the matched), `fingerprint` (changes when the store does), and `all_columns`.

    Raises:
        InvalidFilterError: a bad filter or an unknown sort column.
        ValueError: a negative offset or a limit outside 1..MAX_PAGE.
    """
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"offset must be >= 0 and limit between 1 and {MAX_PAGE}; got offset={offset}, limit={limit}")
    table = entry.table
    matched = filter_table(table, filter_text) if filter_text.strip() else table
    if sort:
        name = sort.removeprefix("-")
        if name not in table.columns:
            raise InvalidFilterError(f"cannot sort by {name!r}: no such column; columns are {', '.join(table.columns[:30])}")
        matched = matched.sort(name, descending=sort.startswith("-"), nulls_last=True, maintain_order=True)
    page = matched.slice(offset, limit).select(_choose_columns(table, columns))
    payload = frame_payload(page)
    payload.update(
        total=table.height,
        matched=matched.height,
        offset=offset,
        limit=limit,
        sort=sort,
        running=int((matched["status"] == "running").sum()) if matched.height else 0,
        fingerprint=entry.fingerprint,
        all_columns=table.columns,
    )
    return payload
