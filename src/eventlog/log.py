"""`Log`: one open store plus this process's writer; the factory of `Experiment` handles.

`eventlog.open(uri)` returns one. It owns the process's `Recorder` (buffer, flusher, sink),
closes it at interpreter exit, sends heartbeats for active runs, and offers the store-wide
operations (`experiments`, `compact`, `recover`). Opening a log recovers the spools of dead
writers of the same store on this machine; on SIGTERM it marks its active runs `preempted`,
flushes (under `close_timeout`) and hands the signal on (`ingest.signals`).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Literal

from eventlog import run_claims
from eventlog.experiment import Experiment
from eventlog.identity import current_identity
from eventlog.store import open_store, resolve_uri

if TYPE_CHECKING:
    from types import TracebackType

    from ingest.recorder import Recorder

__all__ = ["HEARTBEAT_SECONDS", "Log", "open"]

#: A run without a `stop` is `running` while it sends a `system`/`heartbeat` event this often.
HEARTBEAT_SECONDS = 30.0

_open_logs: weakref.WeakSet[Log] = weakref.WeakSet()
_log = logging.getLogger("eventlog.log")


class Log:
    """An open store and this process's writer into it.

    Args:
        uri: any fsspec URI; None means $EVENTLOG_URI, else `./eventlog`; `http(s)://HOST:PORT`
            logs through a collector (`eventlog serve`) instead of writing the store directly.
        flush_every: seconds between automatic flushes (default 5).
        max_events: buffered events that trigger a flush.
        max_buffer: buffered events at which back-pressure applies (default 4 x max_events).
        on_full: `block` (default) or `drop` when the buffer is full.
        close_timeout: seconds `close()` (and exit, and SIGTERM) waits for the final flush.
        durability: `memory`, `spool` (default) or `sync`: what a crash can lose (see `FlushPolicy`).
        recover: publish dead writers' leftover spools of this store at open (default True).
        storage_options: passed to fsspec (e.g. `{"key": ..., "secret": ...}` for S3).
        token: the collector's bearer token for an `http(s)://` uri ($EVENTLOG_TOKEN when None).

    Raises:
        StoreUnavailableError: the store cannot be reached (missing bucket, no credentials).
    """

    def __init__(
        self,
        uri: str | None = None,
        *,
        flush_every: float = 5.0,
        max_events: int = 100_000,
        max_buffer: int | None = None,
        on_full: Literal["block", "drop"] = "block",
        close_timeout: float = 30.0,
        durability: Literal["memory", "spool", "sync"] = "spool",
        storage_options: dict[str, Any] | None = None,
        token: str | None = None,
        recover: bool = True,
    ) -> None:
        # ingest/ is imported here, not at module level: ingest imports the core, whose package
        # __init__ imports this facade, so a module-level import would be circular.
        from ingest import signals
        from ingest.recorder import FlushPolicy, Recorder

        self.identity = current_identity()
        self.recorder: Recorder
        self.policy = FlushPolicy(
            flush_every=flush_every,
            max_events=max_events,
            max_buffer=max_buffer,
            on_full=on_full,
            close_timeout=close_timeout,
            durability=durability,
        )
        self.remote: Any = None
        uri = resolve_uri(uri)  # before the check: $EVENTLOG_URI may name a collector
        if uri.startswith(("http://", "https://")):
            # A remote logger: events go to a collector (`eventlog serve`), which owns the store.
            from ingest.remote import RemoteClient

            self.remote = RemoteClient(uri, token=token)
            self.store = self.remote.store_view()
            self.recorder = Recorder(self.store, self.identity, self.policy, sink=self.remote.sink, spool_for=self.remote.uri)
        else:
            self.store = open_store(uri, storage_options)
            self.recorder = Recorder(self.store, self.identity, self.policy)
        if recover:
            self._recover_at_open()
        self._active: weakref.WeakSet[Experiment] = weakref.WeakSet()
        self._handles: weakref.WeakSet[Experiment] = weakref.WeakSet()
        self._active_lock = threading.Lock()
        self._last_heartbeat = time.monotonic()
        self._reported_error: BaseException | None = None
        self._pid = os.getpid()
        self.recorder.add_cycle_hook(self._heartbeat)
        self.recorder.on_error(self._divert_to_slow_path)
        _open_logs.add(self)
        signals.install()
        self._signal_token = signals.register(self._on_sigterm)

    def __repr__(self) -> str:
        return f"Log({self.store.uri!r}, writer={self.identity.writer!r})"

    @property
    def uri(self) -> str:
        """The store URI."""
        return self.store.uri

    @property
    def dropped(self) -> int:
        """Events dropped because the buffer was full (only with `on_full="drop"`)."""
        return self.recorder.dropped

    def experiment(self, name: str) -> Experiment:
        """A handle on experiment `name` (no run yet; `with exp:` starts one).

        Raises:
            InvalidNameError: the name breaks a naming rule.
        """
        handle = Experiment(self, name)
        self._handles.add(handle)
        return handle

    def experiments(self, pattern: str = "*") -> list[str]:
        """Names of the experiments in the store that match the glob `pattern`, sorted."""
        from eventlog.catalog import list_experiments

        return list_experiments(self.store, pattern)

    def flush(self, timeout: float | None = None) -> None:
        """Write everything logged so far by this process into the store."""
        self.recorder.flush(timeout)

    def claim_run(self, experiment: str, job: str | None) -> int:
        """Claim the next run number of `experiment` (or join distributed job `job`'s run)."""
        if self.remote is not None:
            return int(self.remote.claim_run(experiment, writer=self.identity.writer, job=job))
        return run_claims.claim_run(self.store, experiment, writer=self.identity.writer, job=job)

    def latest_run(self, experiment: str) -> int | None:
        """The highest run number of `experiment`, or None."""
        if self.remote is not None:
            latest = self.remote.latest_run(experiment)
            return None if latest is None else int(latest)
        return run_claims.latest_run(self.store, experiment)

    def compact(self, experiment: str = "*", **policy: Any) -> Any:
        """Merge small segments of the matching experiments into large sorted files (DESIGN §3).

        Returns:
            A report of what was merged (see `eventlog.compactor.compact`).
        """
        from eventlog.compactor import compact

        self.flush()
        return compact(self.store, experiment, **policy)

    def gc(self, *, grace: float = 3600.0, dry_run: bool = True, force: bool = False, progress: Any = None) -> Any:
        """Delete covered segments and orphaned compacted files older than `grace` seconds.

        Dry run by default: returns what would be deleted (see `eventlog.gc.collect_garbage`).
        """
        from eventlog.gc import collect_garbage

        return collect_garbage(self.store, grace=grace, dry_run=dry_run, force=force, progress=progress)

    def recover(self) -> int:
        """Turn leftover spool frames of dead writers into segments; returns how many events.

        A remote log sends them through its collector. See `ingest.recovery.recover_spools`.

        Raises:
            RecoveryError: the store (or collector) refused a segment; the spool is kept for a later try.
        """
        from ingest.recovery import recover_remote_spools, recover_spools

        report = recover_spools(self.store) if self.remote is None else recover_remote_spools(self.remote)
        return report.events

    def _recover_at_open(self) -> None:
        try:
            self.recover()
        except Exception as exc:  # opening must not fail because an old spool cannot be published yet
            where = self.uri if self.remote is None else self.remote.uri
            _log.warning("eventlog: recovering leftover spools of %s failed (%s); call Log.recover() later", where, exc)

    def close(self) -> None:
        """Stop active runs' heartbeats, flush everything (with `close_timeout`) and stop the flusher."""
        from ingest import signals

        signals.unregister(self._signal_token)
        self.recorder.close()
        _open_logs.discard(self)

    def _on_sigterm(self, final: bool) -> None:
        """On SIGTERM: log `stop` with status `preempted` for every active run and flush, under `close_timeout`."""
        if self.recorder.closed or os.getpid() != self._pid:
            return
        self.recorder.set_deadline(self.policy.close_timeout)
        try:
            # The signal interrupts the main thread anywhere, possibly inside track_active: never wait long.
            locked = self._active_lock.acquire(timeout=0.5)
            try:
                active = list(self._active)
            finally:
                if locked:
                    self._active_lock.release()
            for experiment in active:
                try:
                    experiment.stop(status="preempted")
                except Exception as exc:
                    _log.warning("eventlog: marking %r preempted on SIGTERM failed: %s", experiment, exc)
            if final:
                self.close()
            else:
                self.flush()
        finally:
            self.recorder.set_deadline(None)

    def __enter__(self) -> Log:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # -- hooks used by Experiment -------------------------------------------------------------------
    def track_active(self, experiment: Experiment) -> None:
        """Record that `experiment` has an active run (it gets heartbeats)."""
        with self._active_lock:
            self._active.add(experiment)

    def track_inactive(self, experiment: Experiment) -> None:
        """Record that `experiment`'s run stopped."""
        with self._active_lock:
            self._active.discard(experiment)

    def before_stop(self, experiment: Experiment) -> None:
        """Called just before a run's `stop` event is logged: log tracked environment variables."""
        from ingest.env_tracking import log_tracked_environment

        log_tracked_environment(experiment)

    def take_unreported_error(self) -> BaseException | None:
        """The flusher's error if none was raised to the user since the store last worked, else None."""
        # Raised once per outage, not once per failed retry: the logger must not kill a training
        # loop every flush interval while the store is down (the events are kept and retried;
        # `flush()` still raises while the outage lasts).
        error = self.recorder.flusher_error
        if error is None:
            self._reported_error = None
            return None
        if self._reported_error is not None:
            return None
        self._reported_error = error
        return error

    def _divert_to_slow_path(self, error: BaseException) -> None:
        # The hot path never checks for errors; emptying its key table sends the next call of
        # every handle through the slow path, which raises the error once.
        for handle in list(self._handles):
            handle.divert_to_slow_path()

    def _heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._last_heartbeat < HEARTBEAT_SECONDS:
            return
        self._last_heartbeat = now
        with self._active_lock:
            active = list(self._active)
        for experiment in active:
            experiment.heartbeat()


def open(uri: str | None = None, **options: Any) -> Log:  # shadows the builtin: the contract's name
    """Open the store at `uri` ($EVENTLOG_URI, else ./eventlog) for logging and reading.

    Options: `flush_every`, `max_events`, `max_buffer`, `on_full`, `close_timeout`,
    `durability`, `recover`, `storage_options`, `token` (see `Log`).

    Raises:
        StoreUnavailableError: the store cannot be reached.
    """
    return Log(uri, **options)


@atexit.register
def _close_all() -> None:
    for log in list(_open_logs):
        try:
            log.close()
        except Exception as exc:  # exit must not hang or crash; say what was lost
            import sys

            print(f"eventlog: closing {log.uri} at exit failed: {exc}", file=sys.stderr)
