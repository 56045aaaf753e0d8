"""Fixtures for query tests: events written straight as segments, with times and ids under control.

`write_events(uri, rows)` groups plain dicts into one segment per (experiment, date, writer) in the
real store layout (named with its run range, as the logger names them), so that the query layer reads them exactly as it reads the logger's files.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import itertools
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest

from eventlog.core import layout
from eventlog.core.event import Event
from eventlog.core.segment import encode_segment, table_from_events
from eventlog.core.store import open_store
from eventlog.core.values import to_dt_ns

_SEQ = itertools.count()
T0 = _dt.datetime(2026, 1, 10, 12, 0, tzinfo=_dt.UTC)

Writer = Callable[[str, list[dict[str, Any]]], None]


def write_events(uri: str, rows: list[dict[str, Any]]) -> None:
    """Write `rows` (dicts of Event fields; `dt` a datetime) as segments; seq is assigned increasing."""
    store = open_store(uri)
    groups: dict[tuple[str, str, str], list[Event]] = defaultdict(list)
    for row in rows:
        writer = row.get("writer", "w1")
        fields = {
            "experiment": "exp",
            "run": 1,
            "step": None,
            "event": "metric",
            "key": "loss",
            "value": None,
            "value_json": None,
            "node": "node1",
            "userid": "alice",
            "rank": None,
            "writer": writer,
            "extra": {},
            **row,
        }
        fields["dt"] = to_dt_ns(row.get("dt", T0))
        fields["seq"] = row.get("seq", next(_SEQ))
        event = Event(**fields)
        groups[(event.experiment, layout.date_of_ns(event.dt), writer)].append(event)
    for (experiment, date, writer), events in groups.items():
        segment = encode_segment(experiment, date, writer, events[0].seq, table_from_events(events))
        store.create(segment.path, segment.data)


@pytest.fixture
def write() -> Writer:
    """The `write_events` helper."""
    return write_events


@pytest.fixture(params=["in-memory", "streaming"])
def plan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with both plans: small data read once into memory, and the streaming passes."""
    if request.param == "streaming":
        for name in ("query.runs", "query.summary"):
            monkeypatch.setattr(importlib.import_module(name), "SMALL_SCAN_BYTES", 0)
    return str(request.param)
