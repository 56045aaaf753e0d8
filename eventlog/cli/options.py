"""The options and filter parsing that several `eventlog` commands share.

`--run`, `--event`, `--key`, `--since` and `--where` become the keyword filters of `query.data`
and `query.tail.follow`, so that `data` and `tail` mean the same by the same option.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer

from eventlog.cli.output import format_duration, parse_scalar, parse_time
from eventlog.errors import UserError

__all__ = [
    "EventOption",
    "ExperimentArg",
    "FormatOption",
    "KeyOption",
    "OutOption",
    "RunOption",
    "SinceOption",
    "WhereOption",
    "event_filters",
    "for_people",
    "optional_scalar",
    "run_value",
    "where_filters",
]

ExperimentArg = Annotated[str, typer.Argument(help="Experiment name.", show_default=False)]
RunOption = Annotated[str, typer.Option("--run", "-r", help="Runs: 3, 1,2, -1 (latest), or * (all).")]
FormatOption = Annotated[str, typer.Option("--format", "-f", help="table, csv, json or parquet.")]
OutOption = Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")]
EventOption = Annotated[str | None, typer.Option(help="Event kind(s): metric, param, ... (glob, a,b).")]
KeyOption = Annotated[str | None, typer.Option(help="Key(s): loss, 'train/*', a,b.")]
SinceOption = Annotated[str | None, typer.Option(help="Events at or after: an ISO time or 5h, 2d, 1w.")]
WhereOption = Annotated[list[str] | None, typer.Option(help="EXTRA=VALUE on an extra column, e.g. tag=v1.5; repeatable.")]


def for_people(frame: pl.DataFrame, fmt: str) -> pl.DataFrame:
    """In a table, `duration_s` becomes a readable `duration` (CSV/JSON keep seconds)."""
    if fmt != "table" or "duration_s" not in frame.columns:
        return frame
    durations = frame["duration_s"].map_elements(format_duration, return_dtype=pl.String)
    return frame.with_columns(durations.alias("duration_s")).rename({"duration_s": "duration"})


def where_filters(where: list[str] | None, *, options: tuple[str, ...]) -> dict[str, Any]:
    """`--where EXTRA=VALUE` options as filters on extra columns.

    Args:
        where: the `--where` values.
        options: the filters the command has an option of its own for (`run`, `key`, ...).

    Raises:
        UserError: an option without `=`, or one naming a filter that has its own option (it
            would override that option, or clash with it).
    """
    extra: dict[str, Any] = {}
    for item in where or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--where {item!r}: write EXTRA=VALUE, e.g. --where tag=v1.5")
        if name in options:
            raise UserError(f"--where {item!r}: {name} has its own option; use --{name} {value}")
        extra[name] = parse_scalar(value)
    return extra


def run_value(text: str) -> Any:
    """`--run` as a filter value: `*`/`all` for every run, else a number, a list `1,2` or a pattern."""
    return "*" if text in ("*", "all") else parse_scalar(text)


def event_filters(
    run: str, event: str | None, key: str | None, since: str | None, where: list[str] | None, *, options: tuple[str, ...]
) -> dict[str, Any]:
    """The filters `data` and `tail` share, as keywords of `query.data`/`query.tail.follow`.

    Raises:
        UserError: a bad `--where` (see `where_filters`, which gets `options`).
        ValueError: a `--since` that is neither a duration nor an ISO time.
    """
    return {
        "run": run_value(run),
        "event": optional_scalar(event),
        "key": optional_scalar(key),
        "since": parse_time(since),
        **where_filters(where, options=options),
    }


def optional_scalar(text: str | None) -> Any:
    """An optional option's text as a filter value (None when the option was not given)."""
    return None if text is None else parse_scalar(text)
