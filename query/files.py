"""File lists other engines can trust: the snapshot's files, filtered, with how long they stay valid.

`list_files` returns the files of the current snapshot (DESIGN §3) whose events may match an
experiment, run and time filter, with the manifest version they belong to and the time until
which every file is guaranteed to exist. The guarantee is gc's: a covered raw segment is deleted
only once covered by a manifest version committed more than gc's grace ago, and a compacted file
only when no version current within the grace lists it; both clocks start after this listing, so
the list holds for at least the shortest grace gc accepts (`MIN_GRACE`, 300 s, unless an operator
forces less). A job that reads longer pins its list (`pin_files`): gc then keeps the files until
the pin expires or `unpin` removes it.

Pruning is conservative (a file is dropped only when it cannot hold a matching event): by the
`date=` partition for a time filter, by the run range a raw segment's name or a compacted file's
manifest entry states, then by the Parquet footer statistics of `run` and `dt` (one footer read
per remaining file, unless the stated range is one wanted run and no time filter is given). Rows of other
runs or times in a kept file are for the reading engine to filter; every row carries
`(writer, seq)` to de-duplicate by.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventlog.core import layout
from eventlog.core.pins import MIN_GRACE, read_pin, remove_pin, write_pin
from eventlog.core.store import FileInfo, Store
from query.filters import Filter, InvalidFilterError
from query.run_filter import skip_other_runs
from query.scan import as_store
from query.snapshot import Snapshot, take_snapshot
from query.timefilters import parse_duration, parse_time

__all__ = ["FileList", "files", "list_files", "pin_files", "unpin"]

_UNIT_NS = {"milliseconds": 1_000_000, "microseconds": 1_000, "nanoseconds": 1}


@dataclass(frozen=True)
class FileList:
    """The files of one snapshot that may hold matching events.

    Attributes:
        store: the store.
        paths: the files, relative to the store root.
        manifest_version: the manifest version of the snapshot (None before the first compaction).
        taken_at: when the snapshot was taken (UTC).
        valid_until: every file exists at least until then (UTC): `taken_at` plus gc's minimum
            grace, or the pin's expiry for a pinned list.
        pin: the pin id of a pinned list (see `pin_files`), else None.
    """

    store: Store
    paths: list[str]
    manifest_version: int | None
    taken_at: _dt.datetime
    valid_until: _dt.datetime
    pin: str | None = None

    @property
    def urls(self) -> list[str]:
        """The files as URLs other engines open (local paths or `s3://` URLs)."""
        return [self.store.url(path) for path in self.paths]

    def to_json(self) -> dict[str, Any]:
        """The list as a JSON-ready dict (what `eventlog files --json` prints)."""
        return {
            "store": self.store.uri,
            "manifest_version": self.manifest_version,
            "taken_at": self.taken_at.isoformat(),
            "valid_until": self.valid_until.isoformat(),
            "pin": self.pin,
            "files": self.urls,
        }


def list_files(
    store: Store | str | None = None,
    experiment: Filter = "*",
    *,
    run: int | Sequence[int] | None = None,
    since: Any = None,
    end: Any = None,
) -> FileList:
    """The current snapshot's files that may hold events of `experiment`, `run` and the time range.

    Args:
        store: a Store or URI (None: $EVENTLOG_URI, else ./.eventlog).
        experiment: the experiment(s): a name, a list, `*`, a glob or `re:`.
        run: a run number or a list of them (None: every run).
        since: the earliest event time (a datetime, ISO text or a duration ago such as `"2h"`).
        end: the latest event time, same forms.

    Returns:
        A `FileList` valid until its `valid_until`.

    Raises:
        InvalidFilterError: a bad `re:` regex, run or time.
    """
    opened = as_store(store)
    taken_at = _dt.datetime.now(_dt.UTC)
    snapshot = take_snapshot(opened, experiment)
    runs = _runs(run)
    first, last = parse_time(since, name="since"), parse_time(end, name="end")
    if runs is not None:  # a file that states its runs is dropped without a footer read
        snapshot = skip_other_runs(snapshot, lambda _: list(runs))
    files = [f for f in snapshot.files if _dates_overlap(f, first, last)]
    if runs is not None or first is not None or last is not None:
        files = [f for f in files if _holds_only_a_wanted_run(snapshot, f, runs, first, last) or _may_hold(opened, f, runs, first, last)]
    valid_until = taken_at + _dt.timedelta(seconds=MIN_GRACE)
    return FileList(opened, [f.path for f in files], snapshot.manifest_version, taken_at, valid_until)


def files(
    store: Store | str | None = None,
    experiment: Filter = "*",
    *,
    run: int | Sequence[int] | None = None,
    since: Any = None,
    end: Any = None,
) -> list[str]:
    """The URLs of the current snapshot's files that may hold matching events, for DuckDB, Spark or pyarrow.

    The list stays valid for gc's minimum grace (300 s); `list_files` says until when, with the
    manifest version, and `pin_files` holds a list for longer.

    Args:
        store: a Store or URI (None: $EVENTLOG_URI, else ./.eventlog).
        experiment: the experiment(s): a name, a list, `*`, a glob or `re:`.
        run: a run number or a list of them (None: every run).
        since: the earliest event time (a datetime, ISO text or a duration ago such as `"2h"`).
        end: the latest event time, same forms.

    Returns:
        Local paths or `s3://` URLs; every row carries (writer, seq) to de-duplicate by.

    Raises:
        InvalidFilterError: a `re:` regex that does not compile, or a bad run or time.
    """
    return list_files(store, experiment, run=run, since=since, end=end).urls


def pin_files(
    store: Store | str | None = None,
    experiment: Filter = "*",
    *,
    hold: float | str,
    run: int | Sequence[int] | None = None,
    since: Any = None,
    end: Any = None,
) -> FileList:
    """`list_files`, pinned: gc keeps every listed file for `hold` (seconds, or a duration such as `"2d"`).

    Remove the pin with `unpin(store, files.pin)` when the job is done; it expires by itself otherwise.

    Raises:
        InvalidFilterError: a bad filter or `hold`.
    """
    seconds = hold if isinstance(hold, int | float) else parse_duration(str(hold), name="hold")
    if seconds is None or not seconds > 0:
        raise InvalidFilterError(f"hold must be a positive duration (seconds, or text such as '2d'), got {hold!r}")
    listed = list_files(store, experiment, run=run, since=since, end=end)
    pin = write_pin(listed.store, listed.paths, float(seconds))
    # the pin's clock is the storage's; its hold starts at its creation, after the listing
    until = listed.taken_at + _dt.timedelta(seconds=max(float(seconds), MIN_GRACE))
    return FileList(listed.store, listed.paths, listed.manifest_version, listed.taken_at, until, pin.id)


def unpin(store: Store | str | None, pin_id: str) -> None:
    """Remove a pin made by `pin_files`; gc may delete its files again (after their own grace).

    Raises:
        FileNotFoundError: there is no such pin (removed, or expired and collected).
        ValueError: `pin_id` is not a pin id.
    """
    opened = as_store(store)
    read_pin(opened, pin_id)
    remove_pin(opened, pin_id)


def _runs(run: int | Sequence[int] | None) -> set[int] | None:
    if run is None:
        return None
    values = [run] if isinstance(run, int) else list(run)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise InvalidFilterError(f"run must be a run number or a list of them, got {run!r}")
    return set(values)


def _dates_overlap(info: FileInfo, first: _dt.datetime | None, last: _dt.datetime | None) -> bool:
    date = layout.date_of(info.path)
    if date is None:
        return True
    if first is not None and date < first.date().isoformat():
        return False
    return not (last is not None and date > last.date().isoformat())


def _holds_only_a_wanted_run(
    snapshot: Snapshot, info: FileInfo, runs: set[int] | None, first: _dt.datetime | None, last: _dt.datetime | None
) -> bool:
    """True when the file states that all its events are of one wanted run and no time filter is
    given: it holds matching events, and its footer need not be read (one GET less on S3)."""
    stated = snapshot.runs_of(info.path)
    return runs is not None and first is None and last is None and stated is not None and stated[0] == stated[1] and stated[0] in runs


def _may_hold(store: Store, info: FileInfo, runs: set[int] | None, first: _dt.datetime | None, last: _dt.datetime | None) -> bool:
    """Whether any row group's statistics allow a matching row (True when statistics are missing)."""
    import pyarrow.parquet as pq

    try:
        with store.fs.open(store.full_path(info.path), "rb") as handle:
            metadata = pq.ParquetFile(handle).metadata
    except FileNotFoundError:
        return False  # deleted since the snapshot: impossible within gc's grace, but never list a missing file
    names = [metadata.schema.column(i).name for i in range(metadata.num_columns)]
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        run_range = _range(group, names, "run")
        dt_range = _range(group, names, "dt")
        if runs is not None and run_range is not None and not any(run_range[0] <= r <= run_range[1] for r in runs):
            continue
        if dt_range is not None and not _times_overlap(dt_range, first, last):
            continue
        return True
    return False


def _range(group: Any, names: list[str], column: str) -> tuple[int, int] | None:
    """(min, max) of a column in a row group, in its physical integers; dt in nanoseconds."""
    if column not in names:
        return None
    chunk = group.column(names.index(column))
    stats = chunk.statistics
    if stats is None or not stats.has_min_max:
        return None
    low, high = stats.min_raw, stats.max_raw
    if column == "dt":
        scale = next((ns for unit, ns in _UNIT_NS.items() if unit in str(stats.logical_type)), 1)
        low, high = low * scale, high * scale
    return int(low), int(high)


def _times_overlap(dt_range: tuple[int, int], first: _dt.datetime | None, last: _dt.datetime | None) -> bool:
    if first is not None and dt_range[1] < _ns(first):
        return False
    return not (last is not None and dt_range[0] > _ns(last))


def _ns(moment: _dt.datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1_000
