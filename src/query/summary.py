"""`summary()`: statistics of metrics with pandas `describe` semantics, plus first and last."""

from __future__ import annotations

from typing import Any

import polars as pl

from eventlog.store import Store
from query.data import scan

__all__ = ["STAT_COLUMNS", "summary"]

STAT_COLUMNS = ["count", "mean", "std", "min", "25%", "50%", "75%", "max", "first", "last"]


def _stats(value: pl.Expr) -> list[pl.Expr]:
    return [
        value.count().cast(pl.Float64).alias("count"),
        value.mean().alias("mean"),
        value.std(ddof=1).alias("std"),
        value.min().alias("min"),
        value.quantile(0.25, interpolation="linear").alias("25%"),
        value.quantile(0.50, interpolation="linear").alias("50%"),
        value.quantile(0.75, interpolation="linear").alias("75%"),
        value.max().alias("max"),
        value.first().alias("first"),
        value.last().alias("last"),
    ]


def summary(
    store: Store | str | None, experiment: str = "*", *, run: Any = "*", by_run: bool = False, **filters: Any
) -> pl.DataFrame:
    """Per (event, key) — per (run, event, key) with `by_run=True` — over metrics: count, mean,
    std (ddof=1), min, 25%, 50%, 75% (linear), max, first, last (ordered by step, dt, seq); plus the
    row (`metric`, `latency`): run durations in seconds.
    """
    filters.setdefault("event", "metric")
    frame = scan(store, experiment, run=run, **filters)
    groups = ["run", "event", "key"] if by_run else ["event", "key"]
    ordered = frame.sort(["step", "dt", "seq"], nulls_last=False)
    stats = ordered.group_by(groups).agg(_stats(pl.col("value"))).sort(groups).collect()
    latency = _latency(store, experiment, run, by_run)
    if latency is not None and latency.height:
        stats = pl.concat([stats, latency.select(stats.columns)], how="vertical_relaxed")
    return stats


def _latency(store: Store | str | None, experiment: str, run: Any, by_run: bool) -> pl.DataFrame | None:
    events = scan(store, experiment, run=run, event=["start", "stop"]).collect()
    if events.height == 0:
        return None
    per_run = events.group_by(["experiment", "run"]).agg(
        pl.col("dt").filter(pl.col("event") == "start").min().alias("start"),
        pl.col("dt").filter(pl.col("event") == "stop").max().alias("end"),
    ).filter(pl.col("end").is_not_null() & pl.col("start").is_not_null())
    durations = per_run.with_columns(
        ((pl.col("end") - pl.col("start")).dt.total_microseconds() / 1e6).alias("value"),
        pl.lit("metric").alias("event"),
        pl.lit("latency").alias("key"),
    )
    groups = ["run", "event", "key"] if by_run else ["event", "key"]
    return durations.sort("start").group_by(groups).agg(_stats(pl.col("value"))).sort(groups)
