"""`since`/`end` values: datetimes, dates, timedeltas, relative strings and ISO text."""

from __future__ import annotations

import datetime as _dt

import pytest

from query.filters import InvalidFilterError
from query.timefilters import parse_time

NOW = _dt.datetime(2026, 11, 23, 12, 0, tzinfo=_dt.UTC)


@pytest.mark.parametrize(
    ("text", "ago"),
    [
        ("30s", _dt.timedelta(seconds=30)),
        ("5m", _dt.timedelta(minutes=5)),
        ("5h", _dt.timedelta(hours=5)),
        ("2d", _dt.timedelta(days=2)),
        ("1w", _dt.timedelta(weeks=1)),
        ("1.5h", _dt.timedelta(minutes=90)),
        ("2 days", _dt.timedelta(days=2)),
        ("3 hours ago", _dt.timedelta(hours=3)),
        ("10min", _dt.timedelta(minutes=10)),
    ],
)
def test_relative_strings(text: str, ago: _dt.timedelta) -> None:
    assert parse_time(text, now=NOW) == NOW - ago


def test_absolute_forms() -> None:
    assert parse_time(None) is None
    assert parse_time(_dt.timedelta(hours=1), now=NOW) == NOW - _dt.timedelta(hours=1)
    assert parse_time(_dt.datetime(2026, 1, 2, 3, 4)) == _dt.datetime(2026, 1, 2, 3, 4, tzinfo=_dt.UTC)
    plus2 = _dt.timezone(_dt.timedelta(hours=2))
    assert parse_time(_dt.datetime(2026, 1, 2, 5, 0, tzinfo=plus2)) == _dt.datetime(2026, 1, 2, 3, 0, tzinfo=_dt.UTC)
    assert parse_time(_dt.date(2026, 1, 2)) == _dt.datetime(2026, 1, 2, tzinfo=_dt.UTC)
    assert parse_time("2026-01-02T03:04:05") == _dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=_dt.UTC)
    assert parse_time("2026-01-02") == _dt.datetime(2026, 1, 2, tzinfo=_dt.UTC)


@pytest.mark.parametrize("bad", ["5x", "yesterday", "h5", "", "-3h", 12, 1.5])
def test_malformed_times_are_clear_errors(bad: object) -> None:
    with pytest.raises(InvalidFilterError, match=r"is not a time.*'5h'"):
        parse_time(bad, name="since")
