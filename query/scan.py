"""Scanning: one polars LazyFrame over the store's snapshot, pruned and filtered.

The snapshot (DESIGN §3) is an explicit file list; before anything is opened it is pruned by the
experiment filter and by the `date=` partitions that `since`/`end` allow, so a query on one
experiment never touches another's files. Local and S3 stores are scanned natively by polars
(`hive_partitioning=True` with a pinned `hive_schema`, so a numeric-looking experiment name stays
a string and `date` is a Date); other fsspec stores (`memory://`, ...) are read through fsspec.

Filter names that are not columns are extras (`tag="v1.5"` filters `extra["tag"]`).
"""

from __future__ import annotations

import datetime as _dt
import io
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import polars as pl

from eventlog.core import layout, run_claims
from eventlog.core.event import polars_schema
from eventlog.core.segment import polars_scan_options
from eventlog.core.store import FileInfo, Store, open_store
from query.damage import excluded_paths
from query.filters import Filter, is_everything, match, match_text, text_matcher
from query.run_filter import needs_resolving, resolve_runs, run_predicate, runs_by_experiment, skip_other_runs
from query.snapshot import Snapshot, take_snapshot
from query.timefilters import parse_time

__all__ = [
    "FILE_OVERHEAD_BYTES",
    "HIVE_SCHEMA",
    "SMALL_SCAN_BYTES",
    "RowFilter",
    "as_store",
    "column_predicates",
    "columns",
    "empty_frame",
    "file_schema",
    "resolve_runs",
    "row_bytes",
    "row_filter",
    "scan",
    "scan_sized",
    "scan_snapshot",
    "scan_store",
    "scanned_name",
    "select_files",
]

HIVE_SCHEMA = {"experiment": pl.String, "date": pl.Date}
#: Below this many bytes of Parquet (~2-4M events), multi-pass plans read the needed columns once into
#: memory (10-20x the Parquet size) and run their passes there: per-file costs dominate small scans.
SMALL_SCAN_BYTES = 32 << 20
#: What a segment file costs beyond its rows (footer, schema, page headers): a 20-row segment is
#: 2.6-9 KB, nearly all of it this. Plans are chosen by the rest, the bytes of rows, so 10,000
#: tiny segments (200,000 rows) read into memory once instead of being scanned file by file per pass.
FILE_OVERHEAD_BYTES = 8 << 10


def as_store(store: Store | str | None) -> Store:
    """A `Store` from a Store, a URI, or None ($EVENTLOG_URI, else ./.eventlog).

    Args:
        store: a Store, a URI or None.

    Returns:
        The Store.
    """
    return store if isinstance(store, Store) else open_store(store)


def file_schema() -> pl.Schema:
    """The polars schema of a segment file (`eventlog.core.event.polars_schema`).

    Returns:
        The schema of the columns stored in files (no partition columns); the same object on
        every call, so treat it as read-only.
    """
    schema: pl.Schema = polars_schema()
    return schema


@cache
def columns() -> tuple[str, ...]:
    """Every column of a scan: the file columns plus the partition columns `experiment` and `date`.

    Returns:
        The column names.
    """
    return (*file_schema().names(), *HIVE_SCHEMA)


def empty_frame() -> pl.LazyFrame:
    """A LazyFrame with the columns of a scan and no rows (for stores or filters without data).

    Returns:
        The empty LazyFrame.
    """
    return pl.LazyFrame(schema={**dict(file_schema()), **HIVE_SCHEMA})


def _experiment(path: str) -> str:
    return layout.experiment_of(path) or ""


def _date(path: str) -> _dt.date | None:
    """The path's `date=` partition as a date (None: none, or not a date, so never pruned)."""
    text = layout.date_of(path)
    try:
        return _dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def select_files(
    snapshot: Snapshot,
    *,
    experiment: Filter = "*",
    since: _dt.datetime | None = None,
    end: _dt.datetime | None = None,
) -> Snapshot:
    """The part of `snapshot` whose partitions can hold matching events (pruning by path only).

    Args:
        snapshot: the store's snapshot.
        experiment: an experiment filter (name, list, glob, `re:`); `take_snapshot` applies it
            already, so scans leave it at `*`.
        since: keep files of dates on or after this time's date.
        end: keep files of dates on or before this time's date.

    Returns:
        A Snapshot with the kept files.

    Raises:
        InvalidFilterError: a `re:` regex that does not compile.
    """
    if is_everything(experiment) and since is None and end is None:
        return snapshot
    matches = text_matcher(experiment)
    first, last = (since.date() if since else None), (end.date() if end else None)
    kept: list[FileInfo] = []
    for info in snapshot.files:
        if not matches(_experiment(info.path)):
            continue
        date = _date(info.path)
        if date is not None and ((first and date < first) or (last and date > last)):
            continue
        kept.append(info)
    return replace(snapshot, files=kept)


def scan_snapshot(snapshot: Snapshot, *, file_column: str | None = None) -> pl.LazyFrame:
    """A LazyFrame over every file of `snapshot`, with `experiment` and `date` columns.

    Args:
        snapshot: the files to scan.
        file_column: also a column of this name holding each row's file, as the store's URL of
            it (`Store.url`; a path for stores polars cannot open itself).

    Returns:
        The LazyFrame (no rows, all columns, if the snapshot is empty).
    """
    store = snapshot.store
    skipped = excluded_paths()  # damaged files of an on_damaged="skip" read (query.damage)
    if skipped:
        snapshot = replace(snapshot, files=[f for f in snapshot.files if f.path not in skipped])
    if not snapshot.files:
        empty = empty_frame()
        return empty if file_column is None else empty.with_columns(pl.lit(None, dtype=pl.String).alias(file_column))
    if store.polars_native:
        return pl.scan_parquet(
            snapshot.urls,
            hive_partitioning=True,
            hive_schema=HIVE_SCHEMA,
            storage_options=store.polars_storage_options(),
            missing_columns="raise",  # a foreign file is damage to name (query.damage), not rows of nulls
            extra_columns="ignore",
            include_file_paths=file_column,
            **polars_scan_options(),
        )
    frames = [_read_via_fsspec(store, path) for path in snapshot.paths]
    if file_column is not None:
        frames = [f.with_columns(pl.lit(path, dtype=pl.String).alias(file_column)) for f, path in zip(frames, snapshot.paths, strict=True)]
    return pl.concat(frames, how="diagonal_relaxed").lazy()


def scanned_name(store: Store, path: str) -> str:
    """What `scan_snapshot(..., file_column=...)` holds for the rows of the file at `path`."""
    return store.url(path) if store.polars_native else path


def _read_via_fsspec(store: Store, path: str) -> pl.DataFrame:
    frame = pl.read_parquet(io.BytesIO(store.read(path)))
    if "dt" in frame.columns:  # a store written with nanoseconds (DESIGN §14)
        frame = frame.with_columns(pl.col("dt").dt.cast_time_unit("us"))  # DT_UNIT
    return frame.with_columns(
        pl.lit(_experiment(path), dtype=pl.String).alias("experiment"), pl.lit(_date(path), dtype=pl.Date).alias("date")
    )


def scan_store(store: Store | str | None, experiment: Filter = "*") -> pl.LazyFrame:
    """A LazyFrame over the current snapshot of the experiments matching `experiment`, unfiltered.

    Args:
        store: a Store or URI.
        experiment: an experiment filter (a name, a list, `*`, a glob or `re:`).

    Returns:
        The LazyFrame.
    """
    return scan_snapshot(take_snapshot(as_store(store), experiment))


def _runs_of(snapshot: Snapshot, experiment: str) -> list[int]:
    """The experiment's runs: its run claims, else (imported or synthetic data) the runs in its events."""
    known = run_claims.list_runs(snapshot.store, experiment)
    if known:
        return known
    files = [f for f in snapshot.files if _experiment(f.path) == experiment]
    stated = {f.path: snapshot.runs_of(f.path) for f in files}
    single = {runs[0] for runs in stated.values() if runs is not None and runs[0] == runs[1]}  # known without opening
    others = [f for f in files if not (runs := stated[f.path]) or runs[0] != runs[1]]
    found = scan_snapshot(replace(snapshot, files=others)).select(pl.col("run").unique()).collect()
    return sorted(single | {int(r) for r in found["run"].drop_nulls()})


def _resolved_runs(snapshot: Snapshot, run: Any) -> dict[str, Any] | None:
    """The run filter per experiment of `snapshot` if it counts from the latest run, else None."""
    if not needs_resolving(run):
        return None
    names = sorted({_experiment(f.path) for f in snapshot.files})
    return runs_by_experiment(names, run, lambda name: _runs_of(snapshot, name))


def column_predicates(**filters: Filter) -> list[pl.Expr]:
    """The predicates of column filters (not `run`, `since`, `end`); other names filter extras.

    Args:
        **filters: column=value filters (a value, a list, `*`/None, a glob, `re:`).

    Returns:
        One predicate per filter that selects less than everything.

    Raises:
        InvalidFilterError: a regex that does not compile.
    """
    known = set(columns())
    predicates = []
    for column, value in filters.items():
        # an extra is text, where numbers compare as numbers
        predicate = match(column, value) if column in known else match_text(pl.col("extra").map.get(column), value)
        if predicate is not None:
            predicates.append(predicate)
    return predicates


def scan(
    store: Store | str | None,
    experiment: Filter = "*",
    *,
    since: Filter = None,
    end: Filter = None,
    **filters: Filter,
) -> pl.LazyFrame:
    """A LazyFrame of the events of the experiments matching `experiment`, filtered by column.

    Only files of matching experiments (and, with `since`/`end`, matching dates) are opened.

    Args:
        store: a Store or URI (None: $EVENTLOG_URI, else ./.eventlog).
        experiment: a name, a list, `*`/`all`, a glob or `re:<regex>`.
        since: events at or after this time (datetime, timedelta, `"5h"`, `"2d"`, ISO text).
        end: events at or before this time (same forms).
        **filters: column=value filters (a value, a list, `*`/None, a glob, `re:`); `run` also
            takes negative ints (from the latest) and slices. A name that is not a column
            filters the extra of that name (`tag="v1.5"`).

    Returns:
        A LazyFrame with the file columns (`extra` as a map) plus `experiment` and `date`.

    Raises:
        InvalidFilterError: a malformed time or a regex that does not compile.
        RunNotFoundError: a negative run reaches past the first run.

    Example:
        >>> frame = scan("./.eventlog", "mnist", key="train/*", since="2d").collect()  # doctest: +SKIP
    """
    return scan_sized(store, experiment, since=since, end=end, **filters)[0]


def scan_sized(
    store: Store | str | None,
    experiment: Filter = "*",
    *,
    since: Filter = None,
    end: Filter = None,
    **filters: Filter,
) -> tuple[pl.LazyFrame, int]:
    """`scan()`, and an estimate of the bytes of rows it reads (to pick a plan by the amount of data).

    The estimate is the files' bytes less `FILE_OVERHEAD_BYTES` each: it grows with the rows,
    not with the number of files (footers are read once, per-file costs do not multiply by passes).

    Args:
        store: a Store or URI.
        experiment: the experiment filter.
        since: the lower time bound.
        end: the upper time bound.
        **filters: column filters, as for `scan()`.

    Returns:
        (the LazyFrame, the estimated bytes of rows of the pruned snapshot's files).

    Raises:
        InvalidFilterError: a malformed time or a regex that does not compile.
        RunNotFoundError: a negative run reaches past the first run.
    """
    resolved = as_store(store)
    lower = parse_time(since, name="since")
    upper = parse_time(end, name="end")
    snapshot = select_files(take_snapshot(resolved, experiment), since=lower, end=upper)
    rows = row_filter(snapshot, since=lower, end=upper, **filters)
    snapshot = rows.files(snapshot)
    frame = scan_snapshot(snapshot)
    for predicate in rows.predicates:
        frame = frame.filter(predicate)
    return frame, row_bytes(snapshot.files)


def row_bytes(files: list[FileInfo]) -> int:
    """An estimate of the bytes of rows in `files`: their sizes less each file's fixed overhead.

    Args:
        files: the files (sizes as listed).

    Returns:
        The estimate, at least 0.
    """
    return sum(max(f.size - FILE_OVERHEAD_BYTES, 0) for f in files)


@dataclass(frozen=True)
class RowFilter:
    """The row filters of a scan, resolved once: predicates for the rows, and the runs for the files.

    Attributes:
        predicates: all of which a row must pass; they need no store any more.
        runs: each experiment's run filter with negative numbers resolved (None: no run filter),
            for `skip_other_runs`.
    """

    predicates: list[pl.Expr]
    runs: Callable[[str], Any] | None = None

    def files(self, snapshot: Snapshot) -> Snapshot:
        """`snapshot` without the files that hold none of the wanted runs (`skip_other_runs`)."""
        return snapshot if self.runs is None else skip_other_runs(snapshot, self.runs)


def row_filter(snapshot: Snapshot, *, since: _dt.datetime | None = None, end: _dt.datetime | None = None, **filters: Filter) -> RowFilter:
    """The row filters of a scan over `snapshot`.

    The experiment filter is not among them: it is exact at the file level (`take_snapshot`).
    Negative runs are resolved now, against each experiment of `snapshot`, so the filter can be
    applied later to any files and frame of events (`query.tail` applies it to every new file).

    Args:
        snapshot: the pruned snapshot the filters apply to (its experiments resolve negative runs).
        since: events at or after this time (already parsed, see `parse_time`).
        end: events at or before this time.
        **filters: column filters, as for `scan()`.

    Returns:
        The `RowFilter`.

    Raises:
        InvalidFilterError: a regex that does not compile.
        RunNotFoundError: a negative run reaches past the first run of every experiment.
    """
    if "run" not in filters:
        return RowFilter(_predicates(since, end, filters, None))
    run = filters["run"]
    resolved = _resolved_runs(snapshot, run)
    wanted: Callable[[str], Any] = (lambda _: run) if resolved is None else (lambda name: resolved.get(name, []))
    return RowFilter(_predicates(since, end, filters, resolved), wanted)


def _predicates(
    since: _dt.datetime | None, end: _dt.datetime | None, filters: dict[str, Filter], runs: dict[str, Any] | None
) -> list[pl.Expr]:
    """The row predicates, with the run filter already resolved per experiment (`runs`, if needed)."""
    predicates: list[pl.Expr | None] = []
    if since is not None:
        predicates.append(pl.col("dt") >= pl.lit(since, dtype=pl.Datetime("ns", "UTC")))
    if end is not None:
        predicates.append(pl.col("dt") <= pl.lit(end, dtype=pl.Datetime("ns", "UTC")))
    if "run" in filters:
        predicates.append(run_predicate(filters["run"], runs))
    predicates.extend(column_predicates(**{k: v for k, v in filters.items() if k != "run"}))
    return [p for p in predicates if p is not None]
