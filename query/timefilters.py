"""`since`/`end` time bounds: a datetime, a date, a timedelta (that long ago), or a relative string.

A relative string is a duration, meaning that long before now. Its grammar, complete:

    duration  := part (separator? part)* (space? "ago")?
    part      := number space? unit           number := digits ("." digits)?
    separator := spaces and/or one comma
    unit      := ms | msec | millisecond   (1/1000 s)      s | sec | second
                 m | min | minute                          h | hr | hour
                 d | day                                   w | wk | week

Units are case-insensitive except `M` (minute or month?), and those of two letters or more (`hr`, `sec`,
`minute`, ...) take a plural `s`: so `"5ms"` is five milliseconds, `"1h30m"` ninety minutes,
`"2 days, 3 hours ago"` what it says. Refused as ambiguous: `M`, months and years (no fixed
length: say `30d`), a unit given twice (`"1h 2h"`), and negative amounts. ISO 8601 text
(`"2026-11-23T10:00"`, `"2026-11-23"`) is an absolute time. Naive datetimes are taken as UTC.
Both bounds are inclusive. A bound also prunes the `date=` partitions a scan opens.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

import polars as pl

from query.filters import InvalidFilterError

__all__ = ["parse_duration", "parse_time", "seconds_between"]

#: Seconds per unit (see the grammar in the module docstring).
_UNITS: dict[str, float] = {
    "ms": 0.001,
    "msec": 0.001,
    "millisecond": 0.001,
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hr": 3600,
    "hour": 3600,
    "d": 86_400,
    "day": 86_400,
    "w": 604_800,
    "wk": 604_800,
    "week": 604_800,
}
#: Units whose length varies, refused with a hint.
_VARIABLE_UNITS = {"mo", "mon", "month", "months", "y", "yr", "yrs", "year", "years"}
_PART = re.compile(r"(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>[A-Za-z]+)")
_DURATION = re.compile(r"^\s*(?P<parts>\d.*?)(?:\s*\bago)?\s*$", re.IGNORECASE)
_SEPARATOR = re.compile(r"^\s*,?\s*$")


def parse_time(value: Any, *, now: _dt.datetime | None = None, name: str = "since") -> _dt.datetime | None:
    """An aware UTC datetime for a `since`/`end` bound, or None for no bound.

    Args:
        value: None, a datetime (naive = UTC), a date (its midnight UTC), a timedelta (that long
            before `now`), a duration string (`"5h"`, `"1h30m"`, `"2 days"`: the grammar of the
            module docstring) or ISO text.
        now: the reference time for relative values (default: the current time).
        name: the argument's name, for the error message.

    Returns:
        The bound as an aware datetime in UTC, or None.

    Raises:
        InvalidFilterError: the value is none of the accepted forms, or an ambiguous duration.
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
        seconds = parse_duration(value, name=name)
        if seconds is not None:
            return _ago(now, _dt.timedelta(seconds=min(seconds, _MAX_SECONDS_AGO)))
        try:
            return parse_time(_dt.datetime.fromisoformat(value.strip()), now=now, name=name)
        except ValueError:
            pass
    raise InvalidFilterError(
        f"{name}={value!r} is not a time: pass a datetime, a timedelta, ISO text ('2026-11-23T10:00') "
        "or a relative time such as '30s', '5m', '5h', '2d', '1w'"
    )


def parse_duration(text: str, *, name: str = "since") -> float | None:
    """The seconds a relative time string stands for (the grammar of the module docstring).

    Args:
        text: e.g. `"5ms"`, `"30s"`, `"1h30m"`, `"2 days ago"`.
        name: the argument's name, for the error message.

    Returns:
        The duration in seconds, or None when `text` does not start like a duration (a digit
        followed by a unit), so that the caller may try ISO text.

    Raises:
        InvalidFilterError: it reads as a duration but is ambiguous or malformed (`"5M"`, `"1mo"`,
            `"1h 2h"`, `"5 parsecs"`).
    """
    found = _DURATION.match(text)
    if found is None or not _PART.match(found["parts"]):
        return None
    seconds = 0.0
    seen: set[float] = set()
    position = 0
    body = found["parts"]
    for part in _PART.finditer(body):
        if not _SEPARATOR.match(body[position : part.start()]):
            return None  # text between the parts: not a duration (ISO text, say)
        position = part.end()
        per_unit = _unit_seconds(part["unit"], text, name)
        if per_unit in seen:
            raise InvalidFilterError(f"{name}={text!r}: the unit {part['unit']!r} is given twice; write each unit once, e.g. '1h30m'")
        seen.add(per_unit)
        seconds += float(part["amount"]) * per_unit
    if body[position:].strip():
        return None
    return seconds


def _unit_seconds(unit: str, text: str, name: str) -> float:
    """Seconds per `unit`; raises InvalidFilterError for an ambiguous or unknown unit."""
    if unit == "M":
        raise InvalidFilterError(f"{name}={text!r}: 'M' could mean minutes or months; write 'm' (or 'min') for minutes")
    lower = unit.lower()
    if lower in _VARIABLE_UNITS:
        raise InvalidFilterError(f"{name}={text!r}: months and years have no fixed length; give days instead, e.g. '30d' or '365d'")
    if lower in _UNITS:
        return _UNITS[lower]
    if lower.endswith("s") and len(lower) > 2 and lower[:-1] in _UNITS:  # plural of a unit of 2+ letters: hrs, secs, hours
        return _UNITS[lower[:-1]]
    raise InvalidFilterError(
        f"{name}={text!r}: unknown time unit {unit!r}; use ms, s, m, h, d or w (or their names: seconds, minutes, ...)"
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
    # divided in Python: polars' `/ 1e9` sometimes multiplies by the reciprocal instead (one ulp
    # off, 0.0035510000000000003 for 0.003551), so the same run could get two durations
    return nanos.map_batches(_exact_seconds, return_dtype=pl.Float64)


def _exact_seconds(nanos: pl.Series) -> pl.Series:
    """Nanoseconds as seconds, whole seconds exactly and the rest correctly rounded (IEEE division).

    A Python loop: this runs over one value per run, and numpy would cost a 0.1 s import.
    """
    seconds = [None if n is None else n // 1_000_000_000 + (n % 1_000_000_000) / 1e9 for n in nanos.to_list()]
    return pl.Series(nanos.name, seconds, dtype=pl.Float64)
