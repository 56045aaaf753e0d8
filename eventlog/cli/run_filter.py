"""The frame behind `eventlog runs`: column choice, `--filter`, `--sort`.

A filter is `COLUMN OP VALUE` with OP one of `= != > >= < <=` (`=` takes a glob for text columns).
A column may be named in full (`param.lr`, `metric.val/acc`) or by its key alone (`lr`), which
is looked up as a param, then a metric.
"""

from __future__ import annotations

import re
from typing import Any

import polars as pl

from query.filters import is_pattern, match

__all__ = ["apply_filter", "resolve_column", "runs_view"]

_FILTER = re.compile(r"^\s*(?P<column>[^<>=!]+?)\s*(?P<op>>=|<=|!=|=|>|<)\s*(?P<value>.*?)\s*$")


def resolve_column(frame: pl.DataFrame, name: str) -> str:
    """The column of a runs frame that `name` means (`lr` finds `param.lr`, then `metric.lr`).

    Raises:
        KeyError: no such column; the message lists the columns there are.
    """
    for candidate in (name, f"param.{name}", f"metric.{name}"):
        if candidate in frame.columns:
            return candidate
    raise KeyError(f"no column {name!r}; columns are: {', '.join(frame.columns)}")


def apply_filter(frame: pl.DataFrame, expression: str) -> pl.DataFrame:
    """Keep the rows of `frame` that satisfy one `COLUMN OP VALUE` expression.

    Raises:
        ValueError: the expression cannot be parsed, or VALUE is not a number for a numeric column.
        KeyError: the column does not exist.
    """
    found = _FILTER.match(expression)
    if found is None:
        raise ValueError(f"cannot parse filter {expression!r}; write COLUMN OP VALUE, e.g. 'param.lr>=0.1' or 'status=completed'")
    column = resolve_column(frame, found["column"])
    op, text = found["op"], found["value"]
    dtype = frame.schema[column]
    value: Any = text
    if dtype.is_numeric():
        try:
            value = float(text)
        except ValueError as exc:
            raise ValueError(f"filter {expression!r}: {column} is numeric, {text!r} is not a number") from exc
    elif dtype.is_temporal():
        value = pl.lit(text).str.to_datetime(time_zone="UTC")
    col = pl.col(column)
    if op == "=" and isinstance(value, str) and is_pattern(value):
        predicate = match(column, value)
    else:
        predicate = {
            "=": col == value,
            "!=": col != value,
            ">": col > value,
            ">=": col >= value,
            "<": col < value,
            "<=": col <= value,
        }[op]
    return frame.filter(predicate) if predicate is not None else frame


def runs_view(frame: pl.DataFrame) -> pl.DataFrame:
    """The columns `eventlog runs` shows: run, status, start, duration_s, error (if any), params, metrics."""
    if frame.height == 0:
        return frame
    first: list[str] = [c for c in ("run", "status", "start", "duration_s") if c in frame.columns]
    if "error" in frame.columns and frame["error"].null_count() < frame.height:
        first.append("error")
    params = sorted(c for c in frame.columns if c.startswith("param."))
    metrics = sorted(c for c in frame.columns if c.startswith("metric."))
    extras = [c for c in frame.columns if c not in {*first, *params, *metrics, "experiment", "end", "node", "userid", "error"}]
    return frame.select([*first, *params, *metrics, *extras])
