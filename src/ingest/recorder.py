"""The recorder: one per process and store, owning the write buffer, the sink and the flusher.

It is what `Log` writes through. The hot path appends rows straight into `buffer`; when the
buffer holds `max_events` events the hot path calls `full()`, which wakes the flusher and applies
back-pressure once `max_buffer` events wait (`block` until the flusher catches up, or `drop` the
event with a counted warning).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from eventlog.errors import BackgroundError
from eventlog.identity import Identity
from eventlog.segment import Segment
from eventlog.store import Store
from ingest.buffer import WriteBuffer
from ingest.flusher import Flusher
from ingest.sink import StoreSink

__all__ = ["FlushPolicy", "Recorder"]

_log = logging.getLogger("eventlog.recorder")


@dataclass(frozen=True)
class FlushPolicy:
    """When the flusher writes segments and how the buffer is bounded.

    Attributes:
        flush_every: seconds between automatic flushes (default 5).
        max_events: buffered events that trigger a flush (default 100,000, ~0.9 MB segments).
        max_buffer: buffered events at which back-pressure applies (default 2 x max_events;
            it bounds memory: ~160 bytes per buffered event).
        on_full: `block` the logging call until the flusher catches up (default, loses nothing),
            or `drop` the event and count it (`Log.dropped`).
        close_timeout: seconds `close()` (and interpreter exit) waits for the final flush.
        durability: `memory` (no spool: a crash loses what was not yet in a segment), `spool`
            (default: every flushed batch is appended to a local spool file first; a crash loses
            only events logged since the last spool write), `sync` (`flush()` returns only once
            the segments are in the store).
    """

    flush_every: float = 5.0
    max_events: int = 100_000
    max_buffer: int | None = None
    on_full: Literal["block", "drop"] = "block"
    close_timeout: float = 30.0
    durability: Literal["memory", "spool", "sync"] = "spool"

    def __post_init__(self) -> None:
        if self.flush_every <= 0:
            raise ValueError(f"flush_every must be > 0 seconds, got {self.flush_every}")
        if self.max_events < 1:
            raise ValueError(f"max_events must be >= 1, got {self.max_events}")
        if self.durability not in ("memory", "spool", "sync"):
            raise ValueError(f"durability must be 'memory', 'spool' or 'sync', got {self.durability!r}")
        if self.on_full not in ("block", "drop"):
            raise ValueError(f"on_full must be 'block' or 'drop', got {self.on_full!r}")

    @property
    def capacity(self) -> int:
        """Buffered events at which back-pressure applies."""
        return self.max_buffer or 2 * self.max_events


class Recorder:
    """Buffer + flusher + sink for one writer process."""

    def __init__(
        self,
        store: Store,
        identity: Identity,
        policy: FlushPolicy,
        *,
        sink: Callable[[list[Segment]], None] | None = None,
    ) -> None:
        self.store = store
        self.identity = identity
        self.policy = policy
        self.buffer = WriteBuffer(identity)
        self.sink = sink or StoreSink(store)
        self.dropped = 0
        self._closed = False
        self._hooks: list[Callable[[], None]] = []
        self._error_callbacks: list[Callable[[BaseException], None]] = []
        self._flusher = Flusher(
            self._drain, self.sink, flush_every=policy.flush_every, name=f"eventlog-{identity.writer}", on_error=self._on_error
        )

    @property
    def threshold(self) -> int:
        """Buffered events at which the hot path calls `full()`."""
        return self.policy.max_events

    @property
    def closed(self) -> bool:
        """True after `close()`."""
        return self._closed

    def add_cycle_hook(self, hook: Callable[[], None]) -> None:
        """Run `hook` in the flusher thread before each drain (used for heartbeats)."""
        self._hooks.append(hook)

    def on_error(self, callback: Callable[[BaseException], None]) -> None:
        """Call `callback(error)` in the flusher thread whenever a flush fails."""
        self._error_callbacks.append(callback)

    def _on_error(self, error: BaseException) -> None:
        for callback in self._error_callbacks:
            callback(error)

    @property
    def flusher_error(self) -> BaseException | None:
        """The error of the last failed flush, or None once a flush succeeded again."""
        return self._flusher.error

    def _drain(self) -> list[Segment]:
        for hook in self._hooks:
            hook()
        return self.buffer.drain()

    def check(self) -> None:
        """Raise the background flusher's error, if it has one.

        Raises:
            BackgroundError: the last flush failed (the events are kept and retried).
        """
        error = self._flusher.error
        if error is not None:
            raise BackgroundError(f"writing events to {self.store.uri} failed: {error}") from error

    def full(self) -> bool:
        """Called by the hot path when the buffer reached `max_events`: wake the flusher, apply back-pressure.

        Returns:
            True if the caller may append its event, False if the event must be dropped.
        """
        self._flusher.wake()
        if self.buffer.pending() < self.policy.capacity:
            return True
        if self.policy.on_full == "drop":
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100_000 == 0:
                _log.warning("eventlog: buffer full (%d events); %d event(s) dropped so far", self.policy.capacity, self.dropped)
            return False
        deadline = time.monotonic() + self.policy.close_timeout
        while self.buffer.pending() >= self.policy.capacity and time.monotonic() < deadline:
            self.check()
            self._flusher.wake()
            time.sleep(0.001)
        return True

    def flush(self, timeout: float | None = None) -> None:
        """Write everything buffered so far into the store and wait for it.

        Raises:
            BackgroundError: writing failed (events are kept and retried).
            TimeoutError: not done within `timeout` seconds.
        """
        self._flusher.flush(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Flush with a deadline (`policy.close_timeout` by default) and stop the flusher thread."""
        if self._closed:
            return
        self._closed = True
        self._flusher.close(self.policy.close_timeout if timeout is None else timeout)

    @property
    def events_written(self) -> int:
        """Events the sink has taken so far."""
        return self._flusher.events_written


