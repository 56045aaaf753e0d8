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
        # Regression (issue 14): "5ms" meant five minutes (m + a plural s), "1h30m" was refused.
        ("5ms", _dt.timedelta(milliseconds=5)),
        ("250 msec", _dt.timedelta(milliseconds=250)),
        ("1h30m", _dt.timedelta(minutes=90)),
        ("1h 30m 15s", _dt.timedelta(hours=1, minutes=30, seconds=15)),
        ("2 days, 3 hours ago", _dt.timedelta(days=2, hours=3)),
        ("5 Minutes", _dt.timedelta(minutes=5)),
        ("2H", _dt.timedelta(hours=2)),
        ("3 secs", _dt.timedelta(seconds=3)),
        ("2 hrs", _dt.timedelta(hours=2)),
        ("1wk 1d", _dt.timedelta(days=8)),
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


@pytest.mark.parametrize("bad", ["yesterday", "h5", "", "-3h", "1h-30m", 12, 1.5])
def test_malformed_times_are_clear_errors(bad: object) -> None:
    with pytest.raises(InvalidFilterError, match=r"is not a time.*'5h'"):
        parse_time(bad, name="since")


@pytest.mark.parametrize(
    ("ambiguous", "says"),
    [
        ("5M", "minutes or months"),
        ("1mo", "no fixed length"),
        ("2 years", "no fixed length"),
        ("1h 2h", "given twice"),
        ("1h1h", "given twice"),
        ("5x", "unknown time unit 'x'"),
        ("5hs", "unknown time unit 'hs'"),
    ],
)
def test_ambiguous_or_unknown_durations_are_refused_with_the_reason(ambiguous: str, says: str) -> None:
    with pytest.raises(InvalidFilterError, match=says):
        parse_time(ambiguous, name="since")


@pytest.mark.parametrize(
    ("bound", "expected"),
    [
        ("2999-01-01", "2262-04-11 23:47:16.854775+00:00"),
        (_dt.datetime(1500, 1, 1), "1677-09-21 00:12:44+00:00"),
        ("1000000w", "1677-09-21 00:12:44+00:00"),
        (_dt.timedelta(days=-(10**8)), "2262-04-11 23:47:16.854775+00:00"),
    ],
)
def test_bounds_beyond_the_event_times_are_clamped(bound: object, expected: str) -> None:
    # the dt column is int64 ns (1677-2262): a bound outside must filter, not fail to convert
    assert str(parse_time(bound, now=NOW)) == expected


def test_data_since_far_future_is_empty_and_end_far_future_is_everything(local_uri: str) -> None:
    import eventlog
    import query

    log = eventlog.open(local_uri)
    with log.experiment("far") as exp:
        exp.log_metric("m", 1.0, step=0)
    log.close()
    assert query.data(local_uri, "far", run="*", since="2999-01-01").height == 0
    assert query.data(local_uri, "far", run="*", event="metric", end="2999-01-01", since="1000000w").height == 1
