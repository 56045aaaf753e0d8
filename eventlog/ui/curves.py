"""Curves for the dashboard: the metrics of chosen runs, downsampled on the server for a chart.

One read of the metric events of the chosen runs whose key matches a pattern (`train/*`), one
series per (key, experiment, run), each cut to about 2 points per pixel of the chart's width
keeping every bucket's extremes (`eventlog.ui.downsample`), so a 1M-step curve arrives as a few
thousand points with its spikes. x is the step, the wall time (epoch seconds) or the time since
the run's start.

Live updates read only what is new: each answer carries a `watermark` (the newest modification
time among the snapshot's files), and a request with `since=<watermark>` reads only the files
changed at or after it. Segments are immutable, so those hold the new events (and a compacted
file holds old ones again: the browser appends only points past a series' last x).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import polars as pl

from eventlog.core.store import Store
from eventlog.errors import InvalidFilterError
from eventlog.ui.downsample import DownsampleMode, downsample_indices
from query.filters import Filter, match
from query.run_filter import runs_predicate, skip_other_runs
from query.scan import scan_snapshot
from query.snapshot import Snapshot, take_snapshot

__all__ = ["MAX_SERIES", "MAX_WIDTH", "RunStarts", "XAxis", "curves", "parse_run_ids"]

#: `step`, `time` (epoch seconds) or `relative` (seconds since the run's start).
XAxis = Literal["step", "time", "relative"]
#: Series one request may ask for (runs x keys): more would not be readable anyway.
MAX_SERIES = 1000
#: The widest chart served, in pixels (a 4K screen).
MAX_WIDTH = 8192
_COLUMNS = ["experiment", "run", "key", "step", "value", "dt", "seq"]


class RunStarts:
    """Each run's start time (its `start` event), read once and kept: it never changes."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, int], float] = {}
        self._lock = threading.Lock()

    def get(self, store: Store, runs: list[tuple[str, int]]) -> dict[tuple[str, int], float]:
        """Epoch seconds of the start of each run (runs without a `start` event are missing).

        Args:
            store: the store.
            runs: (experiment, run) pairs.

        Returns:
            (experiment, run) -> start time in epoch seconds.
        """
        with self._lock:
            missing = [r for r in runs if r not in self._known]
        if missing:
            snapshot, of_runs = _of_runs(take_snapshot(store, sorted({e for e, _ in missing})), missing)
            frame = scan_snapshot(snapshot).filter(pl.col("event") == "start", of_runs)
            found = frame.group_by("experiment", "run").agg(pl.col("dt").min()).collect()
            with self._lock:
                for experiment, run, dt in found.iter_rows():
                    self._known[(experiment, run)] = dt.timestamp()
        with self._lock:
            return {r: self._known[r] for r in runs if r in self._known}


def _by_experiment(runs: list[tuple[str, int]]) -> dict[str, list[int]]:
    """(experiment, run) pairs as experiment -> its run numbers."""
    by_experiment: dict[str, list[int]] = {}
    for experiment, run in runs:
        by_experiment.setdefault(experiment, []).append(run)
    return by_experiment


def _of_runs(snapshot: Snapshot, runs: list[tuple[str, int]]) -> tuple[Snapshot, pl.Expr]:
    """The snapshot without the files that hold none of `runs` (`skip_other_runs`), and the predicate of their rows."""
    by_experiment = _by_experiment(runs)
    return skip_other_runs(snapshot, lambda experiment: by_experiment.get(experiment, [])), runs_predicate(by_experiment)


def _round(values: np.ndarray, digits: int) -> list[float | None]:
    """Floats shortened to `digits` significant digits (JSON bytes), non-finite as None."""
    return [float(f"{v:.{digits}g}") if np.isfinite(v) else None for v in values.tolist()]


def _series(
    arrays: dict[str, np.ndarray],
    has_steps: bool,
    x: XAxis,
    width: int,
    x_range: tuple[float, float] | None,
    mode: DownsampleMode,
    origin: float | None,
) -> dict[str, Any]:
    """One series' points for the chart, from its events' columns in file order (without steps: by time)."""
    steps, ys, micros, seqs = arrays["step"], arrays["value"].astype(np.float64, copy=False), arrays["dt"], arrays["seq"]
    # "last" is the latest logged in (step, dt, seq) order; sort only when the file order is not that already
    if x == "step" and has_steps:
        if np.any(np.diff(steps) < 0):
            order = np.lexsort((seqs, micros, steps))
            steps, ys, micros = steps[order], ys[order], micros[order]
    elif np.any(np.diff(micros) < 0):
        order = np.lexsort((seqs, micros))
        steps, ys, micros = steps[order], ys[order], micros[order]
    seconds = micros / 1e6
    if x == "step":
        xs = steps.astype(np.float64) if has_steps else np.arange(len(ys), dtype=np.float64)
    else:
        xs = seconds - (origin if x == "relative" and origin is not None else 0.0)
    kept = downsample_indices(xs, ys, width, x_range=x_range, mode=mode)
    return {
        "x": [int(v) for v in xs[kept]] if x == "step" else [round(float(v), 3) for v in xs[kept]],
        "y": _round(ys[kept], 8),
        "points": len(ys),
        "nonfinite": int((~np.isfinite(ys)).sum()),
        "last_step": int(steps[-1]) if has_steps else None,
        "last_time": round(float(seconds[-1]), 3),
    }


def curves(
    store: Store,
    runs: list[tuple[str, int]],
    key: Filter = "*",
    *,
    x: XAxis = "step",
    width: int = 1000,
    x_range: tuple[float, float] | None = None,
    since: float | None = None,
    mode: DownsampleMode = "minmax",
    starts: RunStarts | None = None,
) -> dict[str, Any]:
    """The metric curves of `runs` whose key matches `key`, each downsampled for `width` pixels.

    Args:
        store: the store.
        runs: (experiment, run) pairs.
        key: a key, a list, a glob (`train/*`) or `re:` regex.
        x: `step`, `time` or `relative` (see `XAxis`).
        width: the chart's width in pixels (one bucket per pixel).
        x_range: the (low, high) x range shown (a zoomed chart); None: everything.
        since: read only files modified at or after this time (a previous answer's `watermark`).
        mode: `minmax` (~2 points per pixel) or `m4` (up to 4).
        starts: the cache of run start times (for `relative`).

    Returns:
        `{"x", "watermark", "keys", "series": [{"key", "experiment", "run", "x", "y", "points",
        "nonfinite", "last_step", "last_time"}]}`, series sorted by key, experiment and run.

    Raises:
        ValueError: a width outside 1..MAX_WIDTH, an unknown x or mode, no runs, or more than
            `MAX_SERIES` series.
        InvalidFilterError: a regex that does not compile.
    """
    if not 1 <= width <= MAX_WIDTH:
        raise ValueError(f"width must be between 1 and {MAX_WIDTH} pixels, got {width}")
    if x not in ("step", "time", "relative"):
        raise ValueError(f"x must be step, time or relative, got {x!r}")
    if not runs:
        raise ValueError("choose at least one run: run=<experiment>:<number>, repeatable")
    snapshot = take_snapshot(store, sorted({e for e, _ in runs}))
    watermark = max((f.mtime for f in snapshot.files), default=None)
    snapshot, of_runs = _of_runs(snapshot, runs)
    if since is not None:
        snapshot = replace(snapshot, files=[f for f in snapshot.files if f.mtime >= since])
    predicates = [pl.col("event") == "metric", of_runs]
    by_key = match("key", key)
    if by_key is not None:
        predicates.append(by_key)
    frame = scan_snapshot(snapshot).filter(predicates).select(_COLUMNS).collect(engine="streaming")
    # one row per series with its columns as lists, in file order (cheaper than sorting every event)
    groups = (
        frame.group_by(["key", "experiment", "run"], maintain_order=False)
        .agg(pl.col("step").fill_null(-1), pl.col("step").null_count().alias("_nulls"), "value", pl.col("dt").dt.epoch("us"), "seq")
        .sort(["key", "experiment", "run"])
    )
    if groups.height > MAX_SERIES:
        raise ValueError(f"{groups.height} curves asked for (runs x keys); at most {MAX_SERIES}: choose fewer runs or a narrower key")
    origins = (starts or RunStarts()).get(store, runs) if x == "relative" else {}
    series = []
    for index, (name, experiment, run, nulls) in enumerate(groups.select("key", "experiment", "run", "_nulls").iter_rows()):
        arrays = {column: groups[column][index].to_numpy() for column in ("step", "value", "dt", "seq")}
        origin = origins.get((experiment, run))
        if origin is None and x == "relative":
            origin = float(arrays["dt"].min()) / 1e6
        # metrics logged without a step are drawn in time order, x being their position
        one = _series(arrays, nulls == 0, x, width, x_range, mode, origin)
        series.append({"key": name, "experiment": experiment, "run": run, **one})
    return {
        "x": x,
        "watermark": watermark,
        "keys": sorted({s["key"] for s in series}),
        "series": series,
    }


def parse_run_ids(values: list[str]) -> list[tuple[str, int]]:
    """`<experiment>:<run>` texts as (experiment, run) pairs (the experiment may hold `:` itself).

    Raises:
        InvalidFilterError: a text without `:<number>` at its end.
    """
    pairs = []
    for value in values:
        experiment, sep, number = value.rpartition(":")
        if not sep or not experiment or not number.isdigit():
            raise InvalidFilterError(f"run {value!r}: write <experiment>:<run number>, e.g. mnist:3")
        pairs.append((experiment, int(number)))
    return pairs
