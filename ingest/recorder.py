"""The recorder: one per process and store, owning the write buffer, the outbox and the flusher.

It is what `Log` writes through. The hot path appends rows straight into `buffer`; when the
buffer holds `max_events` events the hot path calls `full()`, which wakes the flusher and applies
back-pressure once `max_buffer` events wait (`block` until the flusher catches up, or `drop` the
event with a counted warning). `durability` picks the outbox: `memory` keeps drained segments in
memory until they are published; `spool` and `sync` append them to this writer's spool file first
(`sync` also fsyncs it), so a crash between draining and publishing loses nothing
(`ingest.recovery` publishes the leftovers).
"""

from __future__ import annotations

import logging
import os
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from eventlog.core.identity import Identity
from eventlog.core.segment import Segment
from eventlog.core.store import Store
from eventlog.errors import BackgroundError
from ingest.buffer import WriteBuffer
from ingest.flusher import Flusher, MemoryOutbox, Outbox
from ingest.quarantine import Quarantine
from ingest.sink import StoreSink
from ingest.spool import Spool, SpoolOutbox, spool_dir

if TYPE_CHECKING:
    from ingest.run_writer import RunWriter

__all__ = ["FlushPolicy", "Recorder"]

_log = logging.getLogger("eventlog.recorder")


@dataclass(frozen=True)
class FlushPolicy:
    """When the flusher writes segments and how the buffer is bounded.

    Attributes:
        flush_every: seconds between automatic flushes (default 5).
        max_events: buffered events that trigger a flush (default 100,000, ~0.9 MB segments).
        max_buffer: buffered events at which back-pressure applies (default 4 x max_events;
            it bounds memory: ~90 bytes per live event, ~35 per sealed one).
        on_full: `block` the logging call until the flusher catches up (default, loses nothing),
            or `drop` the event and count it (`Log.dropped`).
        close_timeout: seconds `close()` (and interpreter exit) waits for the final flush.
        durability: `memory` (no spool: a crash loses every event not yet published), `spool`
            (default: every drained batch is appended to a local spool file before it is published;
            a crash of the process loses only events logged since the last drain, and a store
            outage fills the spool, not memory), `sync` (as `spool`, and the spool is fsynced
            before publishing, so even a power loss keeps every drained batch). In every mode
            `flush()` returns only once the events are in the store.
        flush_on_stop: `exp.stop()` flushes, so that a stopped run is in the store when it returns
            (default). False leaves a completed run's events to the next periodic flush (within
            `flush_every`, at `max_events`, or at `close()` and exit), so that a sweep of thousands
            of short runs writes a few segments instead of one per run, and no fsync per run (the
            runs' claims become durable with the flush, one fsync for all); a crash then loses the
            runs stopped since the last flush. A run that ends as `failed` is flushed either way.
    """

    flush_every: float = 5.0
    max_events: int = 100_000
    max_buffer: int | None = None
    on_full: Literal["block", "drop"] = "block"
    close_timeout: float = 30.0
    durability: Literal["memory", "spool", "sync"] = "spool"
    flush_on_stop: bool = True

    def __post_init__(self) -> None:
        if self.flush_every <= 0:
            raise ValueError(f"flush_every must be > 0 seconds, got {self.flush_every}")
        if self.max_events < 1:
            raise ValueError(f"max_events must be >= 1, got {self.max_events}")
        if self.durability not in ("memory", "spool", "sync"):
            raise ValueError(f"durability must be 'memory', 'spool' or 'sync', got {self.durability!r}")
        if self.on_full not in ("block", "drop"):
            raise ValueError(f"on_full must be 'block' or 'drop', got {self.on_full!r}")
        if not isinstance(self.flush_on_stop, bool):
            raise ValueError(f"flush_on_stop must be True or False, got {self.flush_on_stop!r}")

    @property
    def capacity(self) -> int:
        """Buffered events at which back-pressure applies."""
        return self.max_buffer or 4 * self.max_events


class Recorder:
    """Buffer + flusher + sink for one writer process.

    Args:
        store: the store events go to (and whose spool directory is used by default).
        identity: this writer's identity.
        policy: when to flush and what a crash may lose.
        sink: publishes segments instead of writing them to `store` (a remote log's collector).
        spool_for: with a `sink`, the key of its spool directory (the collector's URL), so that
            `ingest.recovery` can send a dead writer's frames the same way; without it a custom
            sink gets no spool.
        spool_base: the spool root (default `$EVENTLOG_SPOOL_DIR`, else the user's cache dir).
    """

    def __init__(
        self,
        store: Store,
        identity: Identity,
        policy: FlushPolicy,
        *,
        sink: Callable[[list[Segment]], None] | None = None,
        spool_for: str | None = None,
        spool_base: str | None = None,
    ) -> None:
        self.store = store
        self.identity = identity
        self.policy = policy
        spool_key = spool_for if spool_for is not None else store
        quarantine = Quarantine(os.path.join(spool_dir(spool_key, spool_base), "quarantine"), identity.writer)
        self.buffer = WriteBuffer(identity, quarantine)
        self.sink = sink or StoreSink(store)
        self.dropped = 0
        self._closed = False
        self._deadline: float | None = None
        self._hooks: list[Callable[[], None]] = []
        self._error_callbacks: list[Callable[[BaseException], None]] = []
        self._writers: weakref.WeakSet[RunWriter] = weakref.WeakSet()
        self._reported_error: BaseException | None = None
        self.spool: Spool | None = None
        outbox: Outbox
        if policy.durability == "memory" or (sink is not None and spool_for is None):
            # a custom sink without a spool key: there is nothing a recovery could send the frames to
            outbox = MemoryOutbox(self.sink)
        else:
            directory = spool_dir(spool_for if spool_for is not None else store, spool_base)
            label = spool_for if spool_for is not None else store.url("")
            self.spool = Spool(directory, identity.writer, store_url=label, fsync=policy.durability == "sync")
            outbox = SpoolOutbox(self.spool, self.sink)
        self._outbox = outbox
        self._target = store.uri if sink is None else "the collector"  # where events go, for messages
        self._flusher = Flusher(
            self._drain,
            outbox,
            flush_every=policy.flush_every,
            target=self._target,
            name=f"eventlog-{identity.writer}",
            on_error=self._on_error,
        )

    @property
    def threshold(self) -> int:
        """Buffered events at which the hot path calls `full()`."""
        return min(self.policy.max_events, self.policy.capacity)

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

    def track_writer(self, writer: RunWriter) -> None:
        """Remember `writer` (weakly), so that a failed flush can send its next call through the slow path."""
        self._writers.add(writer)

    def _on_error(self, error: BaseException) -> None:
        # The hot path never checks for errors; diverting every writer to its slow path makes the
        # next call of each raise the error once (see `raise_unreported_error`).
        for writer in list(self._writers):
            writer.divert_to_slow_path()
        for callback in self._error_callbacks:
            callback(error)

    def raise_unreported_error(self) -> None:
        """Raise the flusher's error if none was raised to a caller since the store last worked.

        Raised once per outage, not once per failed retry: the logger must not kill a training
        loop every flush interval while the store is down (the events are kept and retried;
        `flush()` still raises while the outage lasts).

        Raises:
            BackgroundError: the first call after a flush failed.
        """
        error = self._flusher.error
        if error is None:
            self._reported_error = None
            return
        if self._reported_error is not None:
            return
        self._reported_error = error
        raise self.background_error(error) from error

    @property
    def flusher_error(self) -> BaseException | None:
        """The error of the last failed flush, or None once a flush succeeded again."""
        return self._flusher.error

    def _drain(self) -> list[Segment]:
        for hook in self._hooks:
            hook()
        return self.buffer.drain()

    def background_error(self, error: BaseException) -> BackgroundError:
        """The error to raise in the caller's thread for a failed flush's `error` (chain it with `from`)."""
        return self._flusher.background_error(error)

    def check(self) -> None:
        """Raise the background flusher's error, if it has one.

        Raises:
            BackgroundError: the last flush failed (the events are kept and retried).
        """
        error = self._flusher.error
        if error is not None:
            raise self.background_error(error) from error

    def full(self) -> bool:
        """Called by the hot path when the buffer reached `max_events`: wake the flusher, apply back-pressure.

        Returns:
            True if the caller may append its event, False if the event must be dropped.

        Raises:
            BackgroundError: with `block`, the flusher cannot make room (the store keeps failing
                and nothing more can be set aside) or is not running; the event was not taken.
            TimeoutError: with `block`, a deadline set by `set_deadline` (exit, SIGTERM) passed.
        """
        self._flusher.wake()
        pending = self.buffer.pending()
        if pending <= self.policy.capacity - self.threshold:
            # Room for another `threshold` live events: seal, so that the hot path's length check
            # passes again for the next `threshold` events (see WriteBuffer.seal).
            try:
                self.buffer.seal()
            except Exception as exc:  # the rows stay buffered; the flusher's drain meets it again and reports it
                _log.warning("eventlog: sealing buffered events failed (%s: %s); the flusher will retry", type(exc).__name__, exc)
            return True
        if pending < self.policy.capacity:
            return True  # near the bound: every call comes here until the flusher drained
        if self.policy.on_full == "drop":
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100_000 == 0:
                _log.warning("eventlog: buffer full (%d events); %d event(s) dropped so far", self.policy.capacity, self.dropped)
            return False
        while self.buffer.pending() >= self.policy.capacity:
            flusher = self._flusher
            if not flusher.alive:
                raise BackgroundError(f"the buffer is full ({self.policy.capacity} events) and the flusher is not running")
            error = flusher.error
            if error is not None and flusher.failures > 0 and not self._outbox.accepts_more:
                raise BackgroundError(
                    f"the buffer is full ({self.policy.capacity} events) and writing to {self._target} keeps failing: "
                    f"{error}; this event was not logged (the buffered ones are kept and retried)"
                ) from error
            remaining = self._remaining()
            if remaining is not None and remaining <= 0:
                raise TimeoutError("the buffer is full and the exit deadline passed; this event was not logged")
            flusher.wait_progress(0.05 if remaining is None else min(0.05, remaining))
        return True

    def set_deadline(self, seconds: float | None) -> None:
        """Cap every later wait (`flush()`, a blocked `log_*`) to `seconds` from now; None removes the cap.

        Used at exit and on SIGTERM, so that stopping runs and flushing can never hang.
        """
        self._deadline = None if seconds is None else time.monotonic() + seconds

    def _remaining(self) -> float | None:
        return None if self._deadline is None else self._deadline - time.monotonic()

    def flush(self, timeout: float | None = None) -> None:
        """Write everything buffered so far into the store and wait for it.

        Raises:
            BackgroundError: writing failed (events are kept and retried).
            TimeoutError: not done within `timeout` seconds (or before the deadline, see `set_deadline`).
        """
        remaining = self._remaining()
        if remaining is not None:
            timeout = max(0.0, remaining) if timeout is None else min(timeout, max(0.0, remaining))
        self._flusher.flush(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Flush with a deadline (`policy.close_timeout` by default) and stop the flusher thread.

        The spool file is deleted if everything reached the store; otherwise it stays (unlocked)
        for `ingest.recovery` to publish.

        Raises:
            BackgroundError: the final flush failed (the spooled events are recoverable).
            TimeoutError: the final flush did not finish in time.
        """
        if self._closed:
            return
        self._closed = True
        clean = False
        timeout = self.policy.close_timeout if timeout is None else timeout
        remaining = self._remaining()
        if remaining is not None:
            timeout = min(timeout, max(0.0, remaining))
        try:
            self._flusher.close(timeout)
            clean = True
        finally:
            # Never close the spool under a flusher thread that is still writing to it.
            if not self._flusher.alive and isinstance(self._outbox, SpoolOutbox):
                self._outbox.close(clean=clean)

    @property
    def pending_events(self) -> int:
        """Events drained from the buffer but not yet in the store (in the spool or in memory)."""
        return self._outbox.pending()


