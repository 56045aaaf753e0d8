"""The background flusher: one thread per process that turns buffered events into segments.

It wakes every `flush_every` seconds, when the buffer reaches `max_events`, or when asked to
(`flush()`/`close()`), drains the buffer, and hands the encoded segments to a sink (which spools
and publishes them). A failing sink never loses data: the segments stay pending and are retried
on the next cycle with backoff, and the error is kept for the caller to raise (the next `log_*`
call or `flush()`). Modelled on tensorboardX's EventFileWriter: a thread, a wake-up event, a
sentinel flag to stop, and "flush only if there is something pending".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from eventlog.errors import BackgroundError
from eventlog.segment import Segment

__all__ = ["Flusher"]

_log = logging.getLogger("eventlog.flusher")
_MAX_BACKOFF_S = 30.0


class Flusher:
    """Runs `drain()` → `sink(segments)` in a daemon thread.

    Args:
        drain: takes pending events out of the buffer and encodes them as segments.
        sink: makes segments durable; raises to signal failure (the segments are retried).
        flush_every: seconds between automatic flushes.
        name: thread name, for debugging.
    """

    def __init__(
        self,
        drain: Callable[[], list[Segment]],
        sink: Callable[[list[Segment]], None],
        *,
        flush_every: float,
        name: str = "eventlog-flusher",
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._drain = drain
        self._sink = sink
        self._flush_every = flush_every
        self._on_error = on_error
        self._wakeup = threading.Event()
        self._done = threading.Condition()
        self._requested = 0  # generation of the newest flush request
        self._completed = 0  # generation of the newest cycle that finished without error
        self._stopping = False
        self._pending: list[Segment] = []
        self._failures = 0
        self.error: BaseException | None = None
        self.segments_written = 0
        self.events_written = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """True while the background thread runs."""
        return self._thread.is_alive()

    def wake(self) -> None:
        """Ask for a flush soon, without waiting (called when the buffer is full)."""
        self._wakeup.set()

    def flush(self, timeout: float | None = None) -> None:
        """Drain everything logged before this call and wait until the sink has taken it.

        Raises:
            BackgroundError: the sink failed (the events are kept and retried).
            TimeoutError: the flush did not finish within `timeout` seconds.
        """
        with self._done:
            self._requested += 1
            generation = self._requested
        self._wakeup.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._done:
            while self._completed < generation:
                if self.error is not None and self._failures > 0:
                    raise BackgroundError(f"flushing events failed: {self.error}") from self.error
                if not self._thread.is_alive():
                    raise BackgroundError("the flusher thread is not running; events logged since cannot be written")
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
            self._pending.extend(self._drain())
            if self._pending:
                self._sink(self._pending)
                self.segments_written += len(self._pending)
                self.events_written += sum(s.count for s in self._pending)
                self._pending = []
        except BaseException as exc:  # kept and re-raised in the caller's thread
            self._failures += 1
            self.error = exc
            _log.warning("eventlog: flushing %d segment(s) failed (%s); retrying", len(self._pending), exc)
            if self._on_error is not None:
                self._on_error(exc)
            with self._done:
                self._done.notify_all()
            return
        self._failures = 0
        self.error = None
        with self._done:
            self._completed = max(self._completed, generation)
            self._done.notify_all()
