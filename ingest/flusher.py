"""The background flusher: one thread per process that turns buffered events into segments.

It wakes every `flush_every` seconds, when the buffer reaches `max_events`, or when asked to
(`flush()`/`close()`), drains the buffer into an *outbox* and sends the outbox to the store. The
outbox is either a `MemoryOutbox` (`durability="memory"`: segments wait in memory) or a
`ingest.spool.SpoolOutbox` (segments wait in the local spool file). A failing sink never loses
data: the segments stay in the outbox and are retried on the next cycle with backoff, and the
error is kept for the caller to raise (the next `log_*` call or `flush()`). While the outbox
cannot take more (a memory outbox with unsent segments), the flusher stops draining, so the
bounded buffer applies back-pressure instead of memory growing. Modelled on tensorboardX's
EventFileWriter: a thread, a wake-up event, a sentinel flag to stop, and "flush only if there is
something pending".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from eventlog.core.segment import Segment
from eventlog.errors import BackgroundError

__all__ = ["Flusher", "MemoryOutbox", "Outbox"]

_log = logging.getLogger("eventlog.flusher")
_MAX_BACKOFF_S = 30.0


class Outbox(Protocol):
    """Where drained segments wait until the store has them."""

    @property
    def accepts_more(self) -> bool:
        """False when the flusher must not drain more (it would grow memory)."""
        ...

    def pending(self) -> int:
        """Events accepted but not yet published."""
        ...

    def put(self, segments: list[Segment]) -> None:
        """Accept drained segments (raise if they could not be kept durable; they must not be lost)."""
        ...

    def send(self) -> tuple[int, int]:
        """Publish everything accepted, in order; return (segments, events) published; raise on failure."""
        ...


class MemoryOutbox:
    """Segments wait in memory until the sink has them (`durability="memory"`, or a custom sink without a spool).

    Args:
        sink: publishes segments (idempotently); raises on failure.
    """

    def __init__(self, sink: Callable[[list[Segment]], None]) -> None:
        self._sink = sink
        self._segments: list[Segment] = []

    @property
    def accepts_more(self) -> bool:
        """Only when nothing waits: unsent segments in memory are the bound."""
        return not self._segments

    def pending(self) -> int:
        """Events accepted but not yet published."""
        return sum(s.count for s in self._segments)

    def put(self, segments: list[Segment]) -> None:
        """Keep `segments` for `send`."""
        self._segments.extend(segments)

    def send(self) -> tuple[int, int]:
        """Hand every waiting segment to the sink; on failure they all stay (the sink is idempotent)."""
        if not self._segments:
            return 0, 0
        self._sink(self._segments)
        sent = self._segments
        self._segments = []
        return len(sent), sum(s.count for s in sent)


class Flusher:
    """Runs `drain()` → `outbox.put(segments)` → `outbox.send()` in a daemon thread.

    Args:
        drain: takes pending events out of the buffer and encodes them as segments.
        outbox: where drained segments wait until sent (a `MemoryOutbox` or a `SpoolOutbox`).
        flush_every: seconds between automatic flushes.
        target: where the events go, for error messages (e.g. the store's URI).
        name: thread name, for debugging.
        on_error: called in the flusher thread with each failure.
    """

    def __init__(
        self,
        drain: Callable[[], list[Segment]],
        outbox: Outbox,
        *,
        flush_every: float,
        target: str = "the store",
        name: str = "eventlog-flusher",
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._drain = drain
        self.outbox = outbox
        self._target = target
        self._flush_every = flush_every
        self._on_error = on_error
        self._wakeup = threading.Event()
        self._done = threading.Condition()
        self._requested = 0  # generation of the newest flush request
        self._completed = 0  # generation of the newest cycle that finished without error
        self._failed = 0  # generation of the newest cycle that failed
        self._stopping = False
        self._failures = 0
        self.error: BaseException | None = None
        self.events_written = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """True while the background thread runs."""
        return self._thread.is_alive()

    @property
    def failures(self) -> int:
        """Consecutive failed cycles (0 after a success)."""
        return self._failures

    def wake(self) -> None:
        """Ask for a flush soon, without waiting (called when the buffer is full)."""
        # The hot path calls this on every event until the flusher has drained; Event.set() takes
        # a lock even when already set (0.7 µs), is_set() is a plain read (0.03 µs).
        if not self._wakeup.is_set():
            self._wakeup.set()

    def wait_progress(self, timeout: float) -> None:
        """Wake the flusher and wait (at most `timeout` s) until it finishes a cycle, failed or not."""
        with self._done:
            self._wakeup.set()
            self._done.wait(timeout)

    def background_error(self, error: BaseException) -> BackgroundError:
        """The error to raise in the caller's thread for a failed cycle's `error` (chain it with `from`)."""
        return BackgroundError(
            f"writing events to {self._target} failed: {error}; they are kept and retried "
            "in the background (call flush() to retry now)"
        )

    def flush(self, timeout: float | None = None) -> None:
        """Drain everything logged before this call and wait until the sink has taken it.

        Raises:
            BackgroundError: an attempt made after this call failed (the events are kept and
                retried; calling `flush()` again retries at once).
            TimeoutError: the flush did not finish within `timeout` seconds.
        """
        with self._done:
            self._requested += 1
            generation = self._requested
        self._wakeup.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._done:
            while self._completed < generation:
                if self._failed >= generation and self.error is not None:
                    raise self.background_error(self.error) from self.error
                if not self._thread.is_alive():
                    raise BackgroundError(
                        f"the flusher thread is not running; events logged since cannot be written to {self._target} "
                        "(was the log closed? open a new one)"
                    )
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"flush did not finish within {timeout} s; events stay buffered and are retried")
                self._done.wait(timeout=remaining if remaining is not None else 1.0)

    def close(self, timeout: float | None = None) -> None:
        """Flush, then stop the thread. Never blocks longer than `timeout` seconds.

        Raises:
            BackgroundError: the final flush failed.
            TimeoutError: the final flush did not finish in time (events remain unwritten).
        """
        try:
            if self._thread.is_alive():
                self.flush(timeout)
        finally:
            self._stopping = True
            self._wakeup.set()
            self._thread.join(timeout=0 if timeout is None else min(timeout, 5.0))

    def _run(self) -> None:
        while not self._stopping:
            self._wakeup.wait(self._backoff() if self._failures else self._flush_every)
            self._wakeup.clear()
            if self._stopping:
                break
            self._cycle()

    def _backoff(self) -> float:
        return min(_MAX_BACKOFF_S, 0.05 * 2 ** min(self._failures, 10), self._flush_every)

    def _cycle(self) -> None:
        with self._done:
            generation = self._requested
        try:
            # Drain only while the outbox can take more: a memory outbox with unsent segments first
            # retries them, so that a failing store leaves events in the bounded buffer
            # (back-pressure), not in growing lists. A spool outbox takes more: the disk absorbs it.
            drained = self.outbox.accepts_more
            if drained:
                self.outbox.put(self._drain())
            self._send()
            if not drained:
                self.outbox.put(self._drain())
                self._send()
        except BaseException as exc:  # kept and re-raised in the caller's thread
            self._failures += 1
            self.error = exc
            _log.warning("eventlog: writing %d event(s) failed (%s: %s); retrying", self.outbox.pending(), type(exc).__name__, exc)
            if self._on_error is not None:
                self._on_error(exc)
            with self._done:
                self._failed = max(self._failed, generation)
                self._done.notify_all()
            return
        self._failures = 0
        self.error = None
        with self._done:
            self._completed = max(self._completed, generation)
            self._done.notify_all()

    def _send(self) -> None:
        _segments, events = self.outbox.send()
        self.events_written += events
