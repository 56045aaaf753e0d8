"""`runs()`: one row per run, folded from its events (status, times, params, last metrics)."""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

import polars as pl

from eventlog.store import Store
from query.data import scan

__all__ = ["CRASH_AFTER_SECONDS", "runs"]

#: A run without `stop` whose newest event is older than this is `crashed` (3 missed heartbeats).
CRASH_AFTER_SECONDS = 90.0


def _status(stop_json: str | None, last_dt: _dt.datetime | None, now: _dt.datetime) -> tuple[str, str | None]:
    if stop_json is not None:
        info = json.loads(stop_json)
        return str(info.get("status", "completed")), info.get("error")
    if last_dt is not None and (now - last_dt).total_seconds() <= CRASH_AFTER_SECONDS:
        return "running", None
    return "crashed", None


def runs(store: Store | str | None, experiment: str = "*", **filters: Any) -> pl.DataFrame:
    """One row per run: experiment, run, status, start, end, duration_s, node, userid, error,
    `param.<key>` and `metric.<key>` (last value by step, dt, seq) columns.

    Status is `completed`/`failed` (from the stop event), `running` (no stop, an event within
    the last 90 s: heartbeats come every 30 s) or `crashed`.
    """
    frame = scan(store, experiment, **filters).collect()
    base_cols = ["experiment", "run"]
    if frame.height == 0:
        return pl.DataFrame(schema={"experiment": pl.String, "run": pl.Int64, "status": pl.String})
    ordered = frame.sort(["step", "dt", "seq"], nulls_last=False)
    summary = ordered.group_by(base_cols).agg(
        pl.col("dt").filter(pl.col("event") == "start").first().alias("start"),
        pl.col("dt").filter(pl.col("event") == "stop").last().alias("end"),
        pl.col("dt").max().alias("last_event"),
        pl.col("value_json").filter(pl.col("event") == "stop").last().alias("_stop"),
        pl.col("node").first().alias("node"),
        pl.col("userid").first().alias("userid"),
    )
    now = _dt.datetime.now(_dt.UTC)
    statuses = [_status(s, d, now) for s, d in zip(summary["_stop"], summary["last_event"], strict=True)]
    summary = summary.with_columns(
        pl.Series("status", [s for s, _ in statuses], dtype=pl.String),
        pl.Series("error", [e for _, e in statuses], dtype=pl.String),
        ((pl.col("end").fill_null(pl.col("last_event")) - pl.col("start")).dt.total_microseconds() / 1e6).alias("duration_s"),
    ).drop("_stop", "last_event")
    wide = [summary]
    for kind, prefix in (("param", "param."), ("metric", "metric.")):
        part = ordered.filter(pl.col("event") == kind)
        if part.height == 0:
            continue
        last = part.group_by([*base_cols, "key"]).agg(
            pl.col("value").last().alias("value"), pl.col("value_json").last().alias("value_json")
        )
        is_numeric = last["value"].null_count() == 0
        column = "value" if is_numeric or kind == "metric" else "value_json"
        pivot = last.pivot(on="key", index=base_cols, values=column)
        wide.append(pivot.rename({c: prefix + c for c in pivot.columns if c not in base_cols}))
    result = wide[0]
    for part in wide[1:]:
        result = result.join(part, on=base_cols, how="left")
    first = ["experiment", "run", "status", "start", "end", "duration_s", "node", "userid", "error"]
    return result.select([*first, *[c for c in result.columns if c not in first]]).sort(base_cols)
