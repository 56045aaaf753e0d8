"""`since`/`end` time bounds: a datetime, a date, a timedelta (that long ago), or a relative string.

Relative strings are a number and a unit, `"30s"`, `"5m"`, `"5h"`, `"2d"`, `"1w"` (also with a
space and long units: `"2 days"`), meaning that long before now; ISO 8601 text
(`"2026-11-23T10:00"`, `"2026-11-23"`) is an absolute time. Naive datetimes are taken as UTC.
Both bounds are inclusive. A bound also prunes the `date=` partitions a scan opens.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

import polars as pl

from query.filters import InvalidFilterError

__all__ = ["parse_time", "seconds_between"]

_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86_400,
    "day": 86_400,
    "w": 604_800,
    "week": 604_800,
}
_RELATIVE = re.compile(r"^\s*(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>[a-z]+?)s?\s*(?:ago)?\s*$", re.IGNORECASE)


def parse_time(value: Any, *, now: _dt.datetime | None = None, name: str = "since") -> _dt.datetime | None:
    """An aware UTC datetime for a `since`/`end` bound, or None for no bound.

    Args:
        value: None, a datetime (naive = UTC), a date (its midnight UTC), a timedelta (that long
            before `now`), a relative string (`"5h"`, `"2d"`, `"1w"`, units s m h d w) or ISO text.
        now: the reference time for relative values (default: the current time).
        name: the argument's name, for the error message.

    Returns:
        The bound as an aware datetime in UTC, or None.

    Raises:
        InvalidFilterError: the value is none of the accepted forms.
    """
    if value is None:
        return None
    now = now or _dt.datetime.now(_dt.UTC)
    if isinstance(value, _dt.datetime):
        return _within_event_times(value.replace(tzinfo=_dt.UTC) if value.tzinfo is None else value.astimezone(_dt.UTC))
    if isinstance(value, _dt.date):
        return _within_event_times(_dt.datetime(value.year, value.month, value.day, tzinfo=_dt.UTC))
    if isinstance(value, _dt.timedelta):
        return _ago(now, value)
    if isinstance(value, str):
        found = _RELATIVE.match(value)
        if found and found["unit"].lower() in _UNITS:
            seconds = float(found["amount"]) * _UNITS[found["unit"].lower()]
            return _ago(now, _dt.timedelta(seconds=min(seconds, _MAX_SECONDS_AGO)))
        try:
            return parse_time(_dt.datetime.fromisoformat(value.strip()), now=now, name=name)
        except ValueError:
            pass
    raise InvalidFilterError(
        f"{name}={value!r} is not a time: pass a datetime, a timedelta, ISO text ('2026-11-23T10:00') "
        "or a relative time such as '30s', '5m', '5h', '2d', '1w'"
    )


#: The range of the events' `dt` column (int64 nanoseconds since 1970).
_FIRST_EVENT_TIME = _dt.datetime(1677, 9, 21, 0, 12, 44, tzinfo=_dt.UTC)
_LAST_EVENT_TIME = _dt.datetime(2262, 4, 11, 23, 47, 16, 854775, tzinfo=_dt.UTC)


_MAX_SECONDS_AGO = 10**12  # ~31,700 years: further back than any event, within timedelta's range


def _ago(now: _dt.datetime, delta: _dt.timedelta) -> _dt.datetime:
    """`now - delta`, clamped to the times an event can have (also when it is before year 1)."""
    try:
        return _within_event_times(now - delta)
    except OverflowError:
        return _FIRST_EVENT_TIME if delta > _dt.timedelta(0) else _LAST_EVENT_TIME


def _within_event_times(bound: _dt.datetime) -> _dt.datetime:
    """`bound` clamped to the times an event can have: `since="2999-01-01"` then matches nothing
    instead of failing to convert to nanoseconds, `end="2999-01-01"` everything."""
    return min(max(bound, _FIRST_EVENT_TIME), _LAST_EVENT_TIME)


def seconds_between(end: pl.Expr, start: pl.Expr) -> pl.Expr:
    """A polars expression: `end - start` in seconds as Float64, exact for whole seconds.

    (`dt.total_seconds(fractional=True)` multiplies by 1e-9 and gives 30.000000000000004 for 30 s.)

    Args:
        end: a Datetime expression.
        start: a Datetime expression.

    Returns:
        The Float64 expression.
    """
    nanos = (end - start).dt.total_nanoseconds()
    return (nanos // 1_000_000_000).cast(pl.Float64) + (nanos % 1_000_000_000).cast(pl.Float64) / 1e9
