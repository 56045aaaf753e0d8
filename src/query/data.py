"""`data()`: events as a polars frame, filtered, with extras as columns, sorted by `dt`."""

from __future__ import annotations

from typing import Any

import polars as pl

from eventlog import run_claims
from eventlog.store import Store
from query.filters import match
from query.scan import as_store, scan_store

__all__ = ["DATA_COLUMNS", "data", "expand_extras", "scan"]

#: The columns of `data()`, in order; extras follow as further columns.
DATA_COLUMNS = ["experiment", "run", "step", "event", "key", "value", "value_json", "dt", "node", "userid", "rank"]


def _run_filter(store: Store, experiment: str, run: Any) -> Any:
    """Resolve negative run numbers (-1 is the latest run) against the experiment's claims."""
    def resolve(r: Any) -> Any:
        if isinstance(r, int) and not isinstance(r, bool) and r < 0:
            runs = run_claims.list_runs(store, experiment)
            return runs[r] if len(runs) >= -r else -1
        return r

    if isinstance(run, (list, tuple, set)):
        return [resolve(r) for r in run]
    return resolve(run)


def scan(store: Store | str | None, experiment: str = "*", **filters: Any) -> pl.LazyFrame:
    """A LazyFrame of the events of the experiments matching `experiment`, filtered by column.

    Args:
        store: a Store or URI (None: $EVENTLOG_URI, else ./eventlog).
        experiment: a name, list, `*` or glob.
        **filters: column=value filters (value, list, `*`, glob); `run` also takes negative ints.
    """
    resolved = as_store(store)
    frame = scan_store(resolved, experiment if isinstance(experiment, str) else "*")
    predicates = []
    if not isinstance(experiment, str) or experiment not in ("*", "all"):
        predicates.append(match("experiment", experiment))
    for column, value in filters.items():
        if column == "run" and isinstance(experiment, str):
            value = _run_filter(resolved, experiment, value)
        predicates.append(match(column, value))
    for predicate in predicates:
        if predicate is not None:
            frame = frame.filter(predicate)
    return frame


def expand_extras(frame: pl.DataFrame) -> pl.DataFrame:
    """Turn the `extra` map column into one string column per extra key."""
    if "extra" not in frame.columns:
        return frame
    keys = frame.select(pl.col("extra").map.keys().explode().drop_nulls().unique())["extra"].sort().to_list()
    columns = [pl.col("extra").map.get(k).alias(k) for k in keys if k not in frame.columns]
    return frame.with_columns(columns).drop("extra")


def data(
    store: Store | str | None,
    experiment: str = "*",
    *,
    run: Any = "*",
    event: Any = None,
    key: Any = None,
    step: Any = None,
    since: Any = None,
    end: Any = None,
    lazy: bool = False,
    **extra: Any,
) -> Any:
    """Events as a DataFrame sorted by `dt` (a LazyFrame with `lazy=True`), extras as columns.

    Filters take a value, a list, `*`/`all`/None or a glob; `run` also a negative int.
    """
    frame = scan(store, experiment, run=run, event=event, key=key, step=step)
    if since is not None:
        frame = frame.filter(pl.col("dt") >= pl.lit(since).cast(pl.Datetime("ns", "UTC")))
    if end is not None:
        frame = frame.filter(pl.col("dt") <= pl.lit(end).cast(pl.Datetime("ns", "UTC")))
    frame = frame.sort(["dt", "writer", "seq"]).select([*DATA_COLUMNS, "extra"])
    collected = expand_extras(frame.collect())
    for column, value in extra.items():
        predicate = match(column, value)
        if predicate is not None and column in collected.columns:
            collected = collected.filter(predicate)
    return collected.lazy() if lazy else collected
