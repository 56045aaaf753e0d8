"""The flusher: retries failed batches in order, reports failures to flush(), stops draining when it must, never hangs."""

from __future__ import annotations

import threading
import time

import pytest

from eventlog.core.segment import Segment
from eventlog.errors import BackgroundError
from ingest.flusher import Flusher, MemoryOutbox


def seg(first_seq: int, count: int = 1) -> Segment:
    return Segment(experiment="e", date="2026-11-23", writer="w", first_seq=first_seq, count=count, data=b"x")


class Source:
    """A drain function over a list of segments that tests fill."""

    def __init__(self) -> None:
        self.waiting: list[Segment] = []
        self.drains = 0

    def __call__(self) -> list[Segment]:
        self.drains += 1
        taken, self.waiting = self.waiting, []
        return taken


class Sink:
    """Records what it published; fails while `failing` is set."""

    def __init__(self) -> None:
        self.published: list[int] = []
        self.failing = threading.Event()

    def __call__(self, segments: list[Segment]) -> None:
        for s in segments:
            if self.failing.is_set():
                raise ConnectionError("store down")
            if s.first_seq not in self.published:  # idempotent, as create-if-absent
                self.published.append(s.first_seq)


def test_flush_raises_after_a_failure_and_a_later_flush_retries_in_order() -> None:
    source, sink = Source(), Sink()
    flusher = Flusher(source, MemoryOutbox(sink), flush_every=3600)
    source.waiting = [seg(0), seg(1)]
    sink.failing.set()
    with pytest.raises(BackgroundError, match="store down"):
        flusher.flush(timeout=10)
    assert flusher.error is not None and flusher.failures >= 1
    sink.failing.clear()
    source.waiting = [seg(2)]
    flusher.flush(timeout=10)
    assert sink.published == [0, 1, 2]
    assert flusher.error is None and flusher.events_written == 3
    flusher.close(timeout=5)
    assert not flusher.alive


def test_a_memory_outbox_with_unsent_segments_stops_draining() -> None:
    source, sink = Source(), Sink()
    outbox = MemoryOutbox(sink)
    flusher = Flusher(source, outbox, flush_every=3600)
    source.waiting = [seg(0, count=5)]
    sink.failing.set()
    with pytest.raises(BackgroundError):
        flusher.flush(timeout=10)
    drains = source.drains
    source.waiting = [seg(5)]
    with pytest.raises(BackgroundError):
        flusher.flush(timeout=10)
    assert source.drains == drains and source.waiting == [seg(5)]  # left in the (bounded) buffer
    assert outbox.pending() == 5 and not outbox.accepts_more
    sink.failing.clear()
    flusher.flush(timeout=10)  # retries the old batch, then drains the new one in the same flush
    assert sink.published == [0, 5]
    flusher.close(timeout=5)


def test_close_returns_within_its_timeout_when_the_store_hangs() -> None:
    source = Source()
    release = threading.Event()

    def hanging_sink(segments: list[Segment]) -> None:
        release.wait()

    flusher = Flusher(source, MemoryOutbox(hanging_sink), flush_every=3600)
    source.waiting = [seg(0)]
    began = time.monotonic()
    with pytest.raises(TimeoutError):
        flusher.close(timeout=0.5)
    assert time.monotonic() - began < 5
    release.set()


def test_wait_progress_returns_after_a_cycle() -> None:
    source, sink = Source(), Sink()
    flusher = Flusher(source, MemoryOutbox(sink), flush_every=3600)
    source.waiting = [seg(0)]
    for _ in range(100):  # a cycle may already have run before we waited
        flusher.wait_progress(1.0)
        if sink.published:
            break
    assert sink.published == [0]
    flusher.close(timeout=5)


def test_recorder_check_names_the_real_target_and_what_to_do(memory_uri: str) -> None:
    """Regression: Recorder.check named the read store (not the collector a remote log writes to) and gave no next step."""
    from eventlog.core.identity import Identity
    from eventlog.core.store import open_store
    from ingest.recorder import FlushPolicy, Recorder

    def collector_down(segments: list[Segment]) -> None:
        raise ConnectionError("collector down")

    recorder = Recorder(
        open_store(memory_uri), Identity(node="n", userid="u", rank=None, writer="w"), FlushPolicy(), sink=collector_down
    )
    recorder.buffer.generic_rows.append((recorder.buffer.slot("e", 1, "metric", "m"), 1.0, None, None, 0))
    with pytest.raises(BackgroundError):
        recorder.flush(timeout=10)
    with pytest.raises(BackgroundError, match=r"writing events to the collector failed: collector down.*call flush\(\)"):
        recorder.check()
    with pytest.raises((BackgroundError, TimeoutError)):  # the collector stays down
        recorder.close(timeout=0.5)
