"""`compare()`: the "which run was best" table: runs side by side, ranked by one metric."""

from __future__ import annotations

from typing import Literal

import polars as pl

from eventlog.core.store import Store
from eventlog.errors import MetricNotFoundError
from query.filters import Filter
from query.runs import RUN_COLUMNS, fold_runs, read_events

__all__ = ["MetricNotFoundError", "compare"]


def compare(
    store: Store | str | None,
    experiment: Filter,
    metric: str,
    mode: Literal["max", "min"] = "max",
    *,
    by: Literal["last", "best"] = "last",
    **filters: Filter,
) -> pl.DataFrame:
    """Runs side by side with their params and the metric's last and best values, best run first.

    Args:
        store: a Store or URI (None: $EVENTLOG_URI, else ./.eventlog).
        experiment: the experiment(s): a name, a list, `*`, a glob or `re:`.
        metric: the metric key to rank by (taken literally: `acc[0]` is not a pattern).
        mode: `max` (higher is better) or `min`.
        by: rank by the metric's `last` value (the default, as MLflow's `search_runs` orders by
            a metric) or by its `best` value over the run.
        **filters: filters on the events (`run`, `since`, `tag`, ...), as for `query.scan`.

    Returns:
        Columns rank, experiment, run, status, `<metric>` (last), `<metric>.best`,
        `<metric>.best_step`, duration_s, the `param.*` columns, the other `metric.*` columns and
        the extras; runs that never logged the metric come last. Empty when the experiment has
        no runs.

    Raises:
        ValueError: `mode` or `by` is not one of the allowed values.
        MetricNotFoundError: the experiment has runs but none logged `metric`.

    Example:
        >>> compare("./.eventlog", "mnist", "val/acc").head(3)  # doctest: +SKIP
    """
    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
    if by not in ("last", "best"):
        raise ValueError(f"by must be 'last' or 'best', got {by!r}")
    # one snapshot for the table and the best values: events landing meanwhile are in neither
    events = read_events(store, experiment, **filters)
    table = fold_runs(events)
    if table.height == 0:
        return table
    column = f"metric.{metric}"
    if column not in table.columns:
        known = sorted(c.removeprefix("metric.") for c in table.columns if c.startswith("metric."))
        raise MetricNotFoundError(f"no run logged metric {metric!r}; metrics are: {', '.join(known) or 'none'}")
    # the key is compared as text: a metric named like a glob (`acc[0]`) is not a pattern here
    history = events.filter((pl.col("event") == "metric") & (pl.col("key") == metric) & pl.col("value").is_not_nan())
    descending = mode == "max"
    best = (
        history.group_by(["experiment", "run"])
        .agg(
            (pl.col("value").max() if descending else pl.col("value").min()).alias(f"{metric}.best"),
            pl.col("step").sort_by(["value", "dt"], descending=[descending, False]).first().alias(f"{metric}.best_step"),
        )
        .collect()
    )
    table = table.join(best, on=["experiment", "run"], how="left").rename({column: metric})
    rank_by = metric if by == "last" else f"{metric}.best"
    table = table.sort(pl.col(rank_by).fill_nan(None), descending=descending, nulls_last=True).with_row_index("rank", offset=1)
    first = ["rank", "experiment", "run", "status", metric, f"{metric}.best", f"{metric}.best_step", "duration_s"]
    params = [c for c in table.columns if c.startswith("param.")]
    others = [c for c in table.columns if c not in first and c not in params and c not in RUN_COLUMNS]
    return table.select([*first, *params, *others]).with_columns(pl.col("rank").cast(pl.Int64))
