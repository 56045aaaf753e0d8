"""Output of the `eventlog` CLI: polars frames as rich tables, CSV, JSON or Parquet; progress bars.

Tables are for people, the other formats for scripts: `--format csv|json` never truncates or
styles anything. When stdout is not a terminal, tables are printed without colour and wide enough
not to wrap, so that their text is stable for `grep`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import io
import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console
from rich.table import Table

from eventlog.errors import InvalidFilterError
from query.timefilters import parse_time as parse_bound

__all__ = [
    "FORMATS",
    "err_console",
    "format_duration",
    "format_value",
    "json_line",
    "out_console",
    "parse_scalar",
    "parse_time",
    "print_report",
    "progress_callback",
    "write_frame",
]

FORMATS = ("table", "csv", "json", "parquet")


def out_console() -> Console:
    """The console for results: stdout, no wrapping or colour when it is not a terminal."""
    tty = sys.stdout.isatty()
    return Console(file=sys.stdout, width=None if tty else 4000, no_color=not tty, highlight=False, soft_wrap=not tty)


def err_console() -> Console:
    """The console for messages and progress: stderr."""
    return Console(file=sys.stderr, highlight=False)


def format_value(value: Any) -> str:
    """A short text for one table cell (floats with 6 significant digits, times to the second)."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.6g}"
    if isinstance(value, _dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def format_duration(seconds: float | None) -> str:
    """`1h 02m`, `3m 07s` or `12.3s`."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def frame_table(frame: pl.DataFrame, *, title: str | None = None, max_rows: int | None = None) -> Table:
    """A rich table of `frame` (the first `max_rows` rows, with a caption saying how many were left out)."""
    table = Table(title=title, show_lines=False, header_style="bold")
    for name in frame.columns:
        numeric = frame.schema[name].is_numeric()
        table.add_column(name, justify="right" if numeric else "left", overflow="fold")
    shown = frame if max_rows is None else frame.head(max_rows)
    for row in shown.iter_rows():
        table.add_row(*(format_value(v) for v in row))
    if max_rows is not None and frame.height > max_rows:
        table.caption = f"{frame.height - max_rows} more rows; use --limit or --format csv to see all"
    return table


def _for_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Nested columns (maps, lists, structs) as JSON text, so CSV can hold them."""
    nested = [c for c, t in frame.schema.items() if t.is_nested()]
    if not nested:
        return frame
    return frame.with_columns(pl.col(c).map_elements(_json_text, return_dtype=pl.String) for c in nested)


def _json_text(value: Any) -> str:
    return json.dumps(value, default=str)


def _microseconds(frame: pl.DataFrame) -> pl.DataFrame:
    """Times to microseconds, so that JSON shows ISO 8601 as `json_line` does (Python has no ns)."""
    times = [c for c, t in frame.schema.items() if isinstance(t, pl.Datetime) and t.time_unit == "ns"]
    return frame.with_columns(pl.col(c).dt.cast_time_unit("us") for c in times) if times else frame


def json_line(row: dict[str, Any]) -> str:
    """One event as a JSON object on one line, times as ISO 8601 (`2026-11-23T10:00:00.123456+00:00`),
    as `--format json` writes them: what `eventlog import jsonl` reads back."""
    return json.dumps(row, default=lambda value: value.isoformat() if isinstance(value, _dt.datetime) else str(value))


def write_frame(frame: pl.DataFrame, fmt: str, *, out: Path | None = None, title: str | None = None, max_rows: int | None = None) -> None:
    """Write `frame` to `out` (default stdout) as a table, CSV, JSON records or Parquet.

    Raises:
        ValueError: an unknown format, or Parquet without `--out` to a terminal.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "table":
        if out is not None:
            raise ValueError("--out needs --format csv, json or parquet (a table is for the terminal)")
        if frame.height == 0:
            err_console().print("no rows")
            return
        out_console().print(frame_table(frame, title=title, max_rows=max_rows))
        return
    if fmt == "parquet":
        if out is None and sys.stdout.isatty():
            raise ValueError("--format parquet writes binary: give --out FILE or redirect stdout to a file")
        if out is not None:
            frame.write_parquet(out)
        else:
            buffer = io.BytesIO()
            frame.write_parquet(buffer)
            sys.stdout.buffer.write(buffer.getvalue())
            sys.stdout.buffer.flush()
        return
    text = _for_text(frame).write_csv() if fmt == "csv" else _microseconds(frame).write_json()
    if fmt == "json":
        text += "\n"
    if out is not None:
        out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def parse_scalar(text: str) -> Any:
    """A CLI filter value: an int or float if it looks like one, `a,b` as a list, else the text."""
    if "," in text:
        return [parse_scalar(part) for part in text.split(",") if part]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_time(text: str | None, *, now: _dt.datetime | None = None) -> _dt.datetime | None:
    """A `--since/--end` value: `5h`, `2d`, `1w` (units s m h d w) ago, or an ISO date/time (UTC if naive).

    The CLI's wording over `query.timefilters.parse_time`, which reads the same forms for the library.

    Raises:
        ValueError: neither form; the message shows both.
    """
    try:
        return parse_bound(text, now=now)
    except InvalidFilterError as exc:
        # the library's reason for an ambiguous duration ("'M' could mean minutes or months"), else the forms
        reason = "" if "is not a time" in str(exc) else str(exc).partition(": ")[2]
        raise ValueError(f"cannot read time {text!r}: {reason or 'use e.g. 5h, 2d, 1w, 1h30m (ago) or 2026-11-23T10:00'}") from exc


@contextmanager
def progress_callback(description: str) -> Iterator[Callable[..., None]]:
    """A rich progress bar on stderr, driven by a callback.

    The callback takes `(done, total)` counts (the compactor, gc) or one message string (the
    importers): counts move the bar, a message replaces the text beside it.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err_console()
    ) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int | str, total: int | None = None) -> None:
            if isinstance(done, str):
                progress.update(task, description=f"{description}: {done}")
            else:
                progress.update(task, completed=done, total=total or None)

        yield update


def print_report(title: str, report: Any) -> None:
    """Print `title`, then one `  field: value` line per field of a report dataclass (long lists as a count)."""
    console = out_console()
    console.print(title)
    for name, value in dataclasses.asdict(report).items():
        if isinstance(value, list | tuple | set) and len(value) > 10:
            value = f"{len(value)} items"
        console.print(f"  {name}: {value}")
