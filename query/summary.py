"""`summary()`: statistics of metrics with pandas `describe` semantics, plus first, last and latency."""

from __future__ import annotations

import polars as pl

from eventlog.core.store import Store
from query.data import check_extras
from query.describe import DEFAULT_BUCKET_BITS, ORDER, STAT_COLUMNS, Aside, describe, describe_with_aside
from query.filters import Filter, matches_text, without_fixed_column
from query.scan import SMALL_SCAN_BYTES, column_predicates, columns, scan_sized
from query.timefilters import seconds_between

__all__ = ["STAT_COLUMNS", "run_durations", "summary"]


def run_durations(frame: pl.LazyFrame) -> pl.DataFrame:
    """Each run's start, end and duration in seconds, from its `start` and `stop` events.

    Args:
        frame: events (any columns of a scan); only `start`/`stop` events are used.

    Returns:
        Columns experiment, run, start, end, duration_s; runs without both events are left out.
    """
    per_run = (
        frame.filter(pl.col("event").is_in(["start", "stop"]))
        .group_by(["experiment", "run"])
        .agg(
            pl.col("dt").filter(pl.col("event") == "start").min().alias("start"),
            pl.col("dt").filter(pl.col("event") == "stop").max().alias("end"),
        )
        .filter(pl.col("start").is_not_null() & pl.col("end").is_not_null())
        .collect(engine="streaming")
    )
    return per_run.with_columns(seconds_between(pl.col("end"), pl.col("start")).alias("duration_s")).sort(
        ["experiment", "run"]
    )


def _describe_events(
    events: pl.LazyFrame, where: pl.Expr, groups: list[str], event: Filter, aside: Aside | None, bits: int, small: bool
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """`describe_with_aside` per group; one event kind (`event="metric"`) is not grouped by, but added back."""
    fewer, add_back = without_fixed_column(groups, "event", event)
    stats, ends = describe_with_aside(events, fewer, where=where, aside=aside, bucket_bits=bits, in_memory=small)
    return add_back(stats).select(groups + STAT_COLUMNS), ends


def summary(
    store: Store | str | None,
    experiment: Filter = "*",
    *,
    run: Filter = "*",
    by_run: bool = False,
    latency: bool = True,
    **filters: Filter,
) -> pl.DataFrame:
    """Statistics per (event, key), or per (experiment, run, event, key) with `by_run=True`.

    Columns: count, mean, std (ddof=1), min, 25%, 50%, 75% (linear interpolation), max, exactly
    as pandas' `Series.describe()` computes them (NaN counts as missing), plus first and last
    (the values of the first and last event in (step, dt, seq) order). Quantiles are exact and
    memory stays bounded at any size (see `query.describe`). Like omega-ml, a row
    (`metric`, `latency`) gives the statistics of the runs' durations in seconds (start to stop),
    over the runs with an event that the filters other than `event` and `key` select (so
    `summary(tag="a")` times only the runs tagged `a`).

    Args:
        store: a Store or URI (None: $EVENTLOG_URI, else ./.eventlog).
        experiment: the experiment(s): a name, a list, `*`, a glob or `re:`.
        run: run filter (an int, negative int, list, slice or `*`).
        by_run: one row per run and key.
        latency: add the (`metric`, `latency`) row(s).
        **filters: further filters as for `query.data` (default `event="metric"`; `event="*"`
            describes every numeric event).

    Returns:
        One row per group, sorted, with the group columns and `STAT_COLUMNS`; no rows when
        nothing matches.

    Raises:
        InvalidFilterError: a malformed filter (see `query.scan`), or one that names neither a
            column nor an extra of the selected events.
        RunNotFoundError: a negative run reaches past the first run.

    Example:
        >>> summary("./.eventlog", "mnist", key="val/*")  # doctest: +SKIP
    """
    filters.setdefault("event", "metric")
    groups = ["experiment", "run", "event", "key"] if by_run else ["event", "key"]
    time_filters = {k: filters.pop(k) for k in ("since", "end") if k in filters}
    wants_latency = latency and matches_text("metric", filters["event"]) and matches_text("latency", filters.get("key"))
    # One snapshot for both the metrics and the run durations (start/stop events).
    events, size = scan_sized(store, experiment, run=run, **time_filters)
    small = size < SMALL_SCAN_BYTES
    if small and wants_latency:
        # small data: read the files once; the metrics and the run durations both come from memory
        known = columns()
        needed = {"experiment", "run", "event", "key", "value", *ORDER}
        needed |= {k if k in known else "extra" for k in filters}
        events = events.select([c for c in known if c in needed]).collect(engine="streaming").lazy()
    where = pl.col("value").is_not_null()
    for predicate in column_predicates(**filters):
        where = where & predicate
    # per run, groups are many and small: coarser buckets keep the histogram small
    bits = 3 if by_run else DEFAULT_BUCKET_BITS
    # the start/stop events of the run durations come from the statistics' second read
    aside = Aside(pl.col("event").is_in(["start", "stop"]), ["experiment", "run", "event", "dt"]) if wants_latency else None
    stats, ends = _describe_events(events, where, groups, filters["event"], aside, bits, small)
    extra_filters = {name: value for name, value in filters.items() if name not in columns()}
    if stats.height == 0 and extra_filters:  # nothing matched: was an extra misnamed? (as data() says)
        check_extras(events, extra_filters, [])
    if ends is None:
        return stats
    runs = run_durations(ends.lazy())
    others = {name: value for name, value in filters.items() if name not in ("event", "key")}
    if others:  # the latency of the runs the other filters select (`tag="a"`), not of every run
        selected = events
        for predicate in column_predicates(**others):
            selected = selected.filter(predicate)
        runs = runs.join(selected.select("experiment", "run").unique().collect(engine="streaming"), on=["experiment", "run"], how="semi")
    if runs.height == 0:
        return stats
    rows = runs.lazy().select(
        "experiment",
        "run",
        pl.lit("metric").alias("event"),
        pl.lit("latency").alias("key"),
        pl.col("duration_s").alias("value"),
        pl.lit(None, dtype=pl.Int64).alias(ORDER[0]),
        pl.col("start").alias(ORDER[1]),
        pl.lit(0, dtype=pl.Int64).alias(ORDER[2]),
    )
    latency_stats = describe(rows, groups)
    return pl.concat([stats, latency_stats.select(stats.columns)], how="vertical_relaxed")
