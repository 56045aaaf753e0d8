"""The buffer is bounded: a slow or failing store blocks (default) or drops with a count, never grows memory."""

from __future__ import annotations

import io
import logging
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import eventlog
from eventlog.core.store import Store


@pytest.fixture(autouse=True)
def _spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTLOG_SPOOL_DIR", str(tmp_path / "spool"))


def metric_steps(store: Store) -> list[int]:
    steps: list[int] = []
    for info in store.find("seg"):
        table = pq.read_table(io.BytesIO(store.read(info.path)), columns=["event", "step"])
        steps += [s for e, s in zip(table.column("event").to_pylist(), table.column("step").to_pylist()) if e == "metric"]
    return sorted(steps)


class SlowStore:
    """Wraps a store's `create` so that each write takes `delay` seconds (a slow S3)."""

    def __init__(self, store: Store, delay: float) -> None:
        self.create = store.create
        self.delay = delay
        store.create = self  # type: ignore[method-assign]

    def __call__(self, path: str, data: bytes, **options: Any) -> None:
        if path.startswith("seg/"):
            time.sleep(self.delay)  # the store's latency, not a wait for a thread
        self.create(path, data, **options)


def log_and_watch(exp: Any, recorder: Any, n: int) -> int:
    """Log n metrics; return the largest number of buffered events seen."""
    most = 0
    for i in range(n):
        exp.log_metric("x", float(i), step=i)
        most = max(most, recorder.buffer.pending())
    return most


def take_store_down(log: eventlog.Log) -> threading.Event:
    """Make segment writes fail with ConnectionError until the returned event is cleared."""
    original = log.store.create
    down = threading.Event()
    down.set()

    def create(path: str, data: bytes, **options: Any) -> None:
        if down.is_set() and path.startswith("seg/"):
            raise ConnectionError("store down")
        original(path, data, **options)

    log.store.create = create  # type: ignore[method-assign]
    return down


def test_block_keeps_the_buffer_bounded_and_loses_nothing(local_uri: str) -> None:
    log = eventlog.open(local_uri, flush_every=3600, max_events=100, max_buffer=200, durability="memory")
    SlowStore(log.store, 0.01)
    with log.experiment("e") as exp:
        most = log_and_watch(exp, log.recorder, 3000)
    assert most <= 200
    assert metric_steps(log.store) == list(range(3000))
    assert log.dropped == 0
    log.close()


def test_drop_counts_every_dropped_event_and_warns(local_uri: str, caplog: pytest.LogCaptureFixture) -> None:
    log = eventlog.open(local_uri, flush_every=3600, max_events=100, max_buffer=200, on_full="drop", durability="memory")
    SlowStore(log.store, 0.02)
    with caplog.at_level(logging.WARNING, logger="eventlog.recorder"), log.experiment("e") as exp:
        most = log_and_watch(exp, log.recorder, 3000)
    assert most <= 200
    kept = metric_steps(log.store)
    assert log.dropped > 0 and len(kept) + log.dropped == 3000  # every event is either stored or counted
    assert len(set(kept)) == len(kept)
    assert any("dropped" in r.getMessage() for r in caplog.records)
    log.close()


def test_block_with_a_failing_store_raises_instead_of_growing(local_uri: str) -> None:
    log = eventlog.open(local_uri, flush_every=3600, max_events=50, max_buffer=100, durability="memory")
    exp = log.experiment("e")
    exp.start()
    down = take_store_down(log)
    accepted = 0
    refused: eventlog.BackgroundError | None = None
    for i in range(100_000):
        try:
            exp.log_metric("x", float(i), step=i)
        except eventlog.BackgroundError as exc:
            if "was not logged" in str(exc):  # the buffer is full and cannot drain: this call is refused
                refused = exc
                break
            # else: an earlier failure reported on this call; this event was kept
        accepted += 1
    assert refused is not None and "store down" in str(refused)
    assert log.recorder.buffer.pending() <= 100  # bounded: the buffer plus one unsent batch
    down.clear()
    exp.flush()
    steps = metric_steps(log.store)
    assert len(steps) == accepted and len(set(steps)) == accepted  # every accepted event, once
    log.close()


def test_with_a_spool_a_store_outage_fills_the_disk_not_memory(local_uri: str) -> None:
    log = eventlog.open(local_uri, flush_every=3600, max_events=100, max_buffer=200)  # durability="spool"
    exp = log.experiment("e")
    exp.start()
    down = take_store_down(log)
    reported = 0
    most = 0
    for i in range(5000):
        try:
            exp.log_metric("x", float(i), step=i)
        except eventlog.BackgroundError:
            reported += 1  # reported; the event itself was kept
        most = max(most, log.recorder.buffer.pending())
    assert most <= 200
    with pytest.raises(eventlog.BackgroundError):
        exp.flush()
    assert log.recorder.pending_events > 4000 and log.recorder.spool is not None and log.recorder.spool.size() > 0
    down.clear()
    exp.flush()
    assert metric_steps(log.store) == list(range(5000))
    assert log.recorder.spool.size() == 0
    log.close()
