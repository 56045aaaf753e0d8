"""Following an experiment: the events that land in the store after a point in time, as they land.

Segments are immutable and uniquely named, so "what is new" is "the events of files not seen
before". A per-writer high-water mark of `seq` (the event id is `(writer, seq)`) drops events that
reappear in other files, e.g. in a compacted copy. Polling costs one listing of the experiment's
partition plus a read of the new files only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import polars as pl

from eventlog.core.store import Store
from query.data import DATA_COLUMNS, expand_extras
from query.filters import Filter
from query.scan import as_store, row_filter, scan_snapshot, select_files
from query.snapshot import Snapshot, take_snapshot
from query.timefilters import parse_time

__all__ = ["Follower", "follow", "format_event"]


class Follower:
    """Remembers what was seen of one experiment and returns only the events that are new.

    Filters select exactly the events `data()` would, with the same resolution (`query.scan`).

    Args:
        store: a Store or URI.
        experiment: the experiment(s): a name, a list, `*`, a glob or `re:<regex>`.
        since: events at or after this time (datetime, timedelta, `"5h"`, ISO text); a relative
            time is taken relative to when following starts.
        end: events at or before this time (same forms).
        **filters: `run`, `event`, `key`, ... and extras (`tag="v1.5"`), as for `data()`; a
            negative `run` counts back from the latest run of each experiment when following
            starts (a run started later is not followed).

    Raises:
        InvalidFilterError: a malformed time or a regex that does not compile.
        RunNotFoundError: a negative run reaches past the first run.
    """

    def __init__(self, store: Store | str | None, experiment: Filter, *, since: Filter = None, end: Filter = None, **filters: Filter) -> None:
        self.store = as_store(store)
        self.experiment = experiment
        self._since = parse_time(since, name="since")
        self._end = parse_time(end, name="end")
        first = self._snapshot()
        self._rows = row_filter(first, since=self._since, end=self._end, **filters)
        # the first read (history) uses the snapshot the filters were resolved on: no second listing
        self._pending: Snapshot | None = first
        self._seen: set[str] = set()
        self._high_water: dict[str, int] = {}

    def _snapshot(self) -> Snapshot:
        return select_files(take_snapshot(self.store, self.experiment), since=self._since, end=self._end)

    def _new_events(self) -> pl.DataFrame:
        snapshot, self._pending = self._pending or self._snapshot(), None
        fresh = [f for f in snapshot.files if f.path not in self._seen]
        wanted = self._rows.files(replace(snapshot, files=fresh))  # not other runs' files (the manifest's ranges kept)
        collected = pl.DataFrame()
        if wanted.files:
            frame = scan_snapshot(wanted)
            for predicate in self._rows.predicates:
                frame = frame.filter(predicate)
            collected = frame.collect()
        self._seen.update(f.path for f in fresh)  # after a read that failed, the next poll tries again
        return self._unseen(collected)

    def _unseen(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Drop events at or below their writer's high-water mark (already returned from another file)."""
        if self._high_water and frame.height:
            marks = pl.DataFrame(
                {"writer": list(self._high_water), "_mark": list(self._high_water.values())},
                schema={"writer": frame.schema["writer"], "_mark": pl.Int64},
            )
            frame = (
                frame.join(marks, on="writer", how="left")
                .filter(pl.col("_mark").is_null() | (pl.col("seq") > pl.col("_mark")))
                .drop("_mark")
            )
        if frame.height:
            for writer, seq in frame.group_by("writer").agg(pl.col("seq").max()).iter_rows():
                self._high_water[writer] = max(seq, self._high_water.get(writer, -1))
        return frame

    def _shape(self, frame: pl.DataFrame) -> pl.DataFrame:
        if frame.height == 0:
            return frame
        frame = frame.sort(["dt", "writer", "seq"]).select([*DATA_COLUMNS, "extra"])
        return expand_extras(frame)

    def history(self, last: int = 10) -> pl.DataFrame:
        """Mark everything in the store now as seen; return its `last` newest matching events."""
        frame = self._shape(self._new_events())
        return frame.tail(last) if last > 0 and frame.height else frame.clear()

    def poll(self) -> pl.DataFrame:
        """The matching events that landed since the last call (or `history()`), sorted by `dt`."""
        return self._shape(self._new_events())


def follow(
    store: Store | str | None,
    experiment: Filter,
    *,
    last: int = 10,
    interval: float = 1.0,
    limit: int | None = None,
    timeout: float | None = None,
    on_ready: Callable[[], None] | None = None,
    **filters: Filter,
) -> Iterator[dict[str, Any]]:
    """Yield the events of `experiment` as they land in the store, like `tail -f`.

    Args:
        store: a Store or URI.
        experiment: the experiment(s): a name, a list, `*`, a glob or `re:<regex>`.
        last: first yield this many of the newest existing events (0: only new ones).
        interval: seconds between polls of the store.
        limit: stop after this many new events (the history does not count); None: never.
        timeout: stop after this many seconds; None: never.
        on_ready: called once the existing events were read, before following starts.
        **filters: `run`, `event`, `key`, `since`, `end`, extras, ... as for `Follower`.

    Yields:
        One dict per event with the columns of `data()` (extras included).

    Raises:
        InvalidFilterError: a malformed time or a regex that does not compile.
        RunNotFoundError: a negative run reaches past the first run.

    Example:
        >>> for event in follow("./.eventlog", "mnist", key="loss", limit=3):  # doctest: +SKIP
        ...     print(format_event(event))
    """
    follower = Follower(store, experiment, **filters)
    deadline = None if timeout is None else time.monotonic() + timeout
    yield from follower.history(last).iter_rows(named=True)
    if on_ready is not None:
        on_ready()
    count = 0
    while limit is None or count < limit:
        for row in follower.poll().iter_rows(named=True):
            yield row
            count += 1
            if limit is not None and count >= limit:
                return
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(interval, left))
        else:
            time.sleep(interval)


def format_event(event: dict[str, Any], *, width: int = 100) -> str:
    """One line for an event: time, experiment/run, step, kind, key and value (JSON shortened to `width`)."""
    dt = event.get("dt")
    when = dt.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if dt is not None else "-"
    value = event.get("value")
    if value is None:
        text = event.get("value_json") or ""
        shown = text if len(text) <= width else text[: width - 1] + "…"
    else:
        shown = f"{value:.6g}"
    step = event.get("step")
    where = f"{event.get('experiment')}/{event.get('run')}"
    return f"{when}  {where:<16} {'' if step is None else f'step={step}':<11} {event.get('event'):<8} {event.get('key')} = {shown}"
