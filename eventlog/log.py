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
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from eventlog.compaction.compactor import CompactionReport
from eventlog.compaction.compactor import compact as compact_store
from eventlog.compaction.gc import GcReport, collect_garbage
from eventlog.compaction.watch import CompactionWatcher
from eventlog.core import run_claims
from eventlog.core.catalog import list_experiments
from eventlog.core.identity import current_identity
from eventlog.core.store import Store, open_store, resolve_uri
from eventlog.errors import EventsQuarantinedWarning
from eventlog.experiment import Experiment
from eventlog.log_options import compaction_period, flushes_on_stop
from ingest import signals
from ingest.recorder import FlushPolicy, Recorder
from ingest.recovery import recover_remote_spools, recover_spools

if TYPE_CHECKING:
    from ingest.remote import RemoteClient

__all__ = ["HEARTBEAT_SECONDS", "Log", "open"]

#: A run without a `stop` is `running` while it sends a `system`/`heartbeat` event this often.
HEARTBEAT_SECONDS = 30.0

_open_logs: weakref.WeakSet[Log] = weakref.WeakSet()
_log = logging.getLogger("eventlog.log")


class Log:
    """An open store and this process's writer into it.

    Args:
        uri: any fsspec URI; None means $EVENTLOG_URI, else `./.eventlog`; `http(s)://HOST:PORT`
            logs through a collector (`eventlog serve`) instead of writing the store directly.
        flush_every: seconds between automatic flushes (default 5).
        max_events: buffered events that trigger a flush.
        max_buffer: buffered events at which back-pressure applies (default 4 x max_events).
        on_full: `block` (default) or `drop` when the buffer is full.
        close_timeout: seconds `close()` (and exit, and SIGTERM) waits for the final flush.
        durability: `memory`, `spool` (default) or `sync`: what a crash can lose (see `FlushPolicy`).
        flush_on_stop: `exp.stop()` flushes (None: $EVENTLOG_FLUSH_ON_STOP, else True). False,
            for sweeps of many short runs: a stopped run reaches the store with the next periodic
            flush (see `FlushPolicy`); the log's own reads (`exp.runs()`, `exp.data()`, ...) flush first.
        recover: publish dead writers' leftover spools of this store at open (default True).
        storage_options: passed to fsspec (e.g. `{"key": ..., "secret": ...}` for S3).
        token: the collector's bearer token for an `http(s)://` uri ($EVENTLOG_TOKEN when None).
        compact_every: compact the experiments this log writes every this many seconds, in a
            background thread, with the automatic policy (`eventlog.compaction.CompactionWatcher`);
            None reads $EVENTLOG_COMPACT_EVERY, else no compaction. Safe with any number of
            loggers and compactors on one store; not for a collector URI (the collector compacts:
            `eventlog serve --compact-every`).

    Raises:
        StoreUnavailableError: the store cannot be reached (missing bucket, no credentials).
        ValueError: `compact_every` (or $EVENTLOG_COMPACT_EVERY) is not a positive number of
            seconds, or is given for a collector URI; $EVENTLOG_FLUSH_ON_STOP is not a yes or no.
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
        flush_on_stop: bool | None = None,
        storage_options: dict[str, Any] | None = None,
        token: str | None = None,
        recover: bool = True,
        compact_every: float | None = None,
    ) -> None:
        uri = resolve_uri(uri)  # before the checks: $EVENTLOG_URI may name a collector
        remote = uri.startswith(("http://", "https://"))
        compact_every = compaction_period(compact_every, remote=remote)
        self.identity = current_identity()
        self.recorder: Recorder
        self.policy = FlushPolicy(
            flush_every=flush_every,
            max_events=max_events,
            max_buffer=max_buffer,
            on_full=on_full,
            close_timeout=close_timeout,
            durability=durability,
            flush_on_stop=flushes_on_stop(flush_on_stop),
        )
        self.remote: RemoteClient | None = None
        self._quarantine_reported = 0
        if remote:
            # A remote logger: events go to a collector (`eventlog serve`), which owns the store.
            # Imported here only to save start-up time: the HTTP client (http.client, ingest.remote,
            # ingest.wire: ~4 ms) is not needed by logs that write the store directly.
            from ingest.remote import RemoteClient

            self.remote = RemoteClient(uri, token=token)
            try:
                self.store = self.remote.store_view()
                self.recorder = Recorder(self.store, self.identity, self.policy, sink=self.remote.sink, spool_for=self.remote.uri)
            except BaseException:
                self.remote.close()  # a refused token must not leave the connection open
                raise
        else:
            self.store = open_store(uri, storage_options)
            self.recorder = Recorder(self.store, self.identity, self.policy)
        if recover:
            self._recover_at_open()
        self._active: weakref.WeakSet[Experiment] = weakref.WeakSet()
        self._active_lock = threading.Lock()
        self._last_heartbeat = time.monotonic()
        self._pid = os.getpid()
        self.recorder.add_cycle_hook(self._heartbeat)
        self._written: set[str] = set()  # the experiments handles were opened on: what compact_every compacts
        self._compaction: CompactionWatcher | None = None
        if compact_every is not None:
            self._compaction = CompactionWatcher(self.store, lambda: list(self._written), every=compact_every).start()
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
        self._written.add(handle.name)
        return handle

    def experiments(self, pattern: str = "*") -> list[str]:
        """Names of the experiments in the store that match the glob `pattern`, sorted."""
        return list_experiments(self.store_for_reading(), pattern)

    def store_for_reading(self) -> Store:
        """The store, for this log's own reads (`exp.data()`, `exp.runs()`, ...).

        With `flush_on_stop=False` it flushes first, so that the process reads back the runs it
        stopped, as it would by default (other readers see them with the next periodic flush).

        Raises:
            BackgroundError: that flush failed.
        """
        if not self.policy.flush_on_stop:
            self.flush()
        return self.store

    def flush(self, timeout: float | None = None) -> None:
        """Write everything logged so far by this process into the store.

        Warns with `EventsQuarantinedWarning` when events were refused by the collector since the
        last flush: they are set aside in a quarantine file (the warning says how many and where).

        Raises:
            BackgroundError: writing failed (the events are kept and retried).
            TimeoutError: not done within `timeout` seconds.
        """
        self.recorder.flush(timeout)
        self._report_quarantine()

    def _report_quarantine(self) -> None:
        quarantines = [q for q in (self.recorder.buffer.quarantine, None if self.remote is None else self.remote.quarantine) if q]
        total = sum(q.count for q in quarantines)
        if total > self._quarantine_reported:
            new = total - self._quarantine_reported
            self._quarantine_reported = total
            where = " and ".join(q.path for q in quarantines if q.count)
            warnings.warn(
                f"{new} event(s) could not be written (refused by the collector or not encodable) and were set aside "
                f"in {where} ({total} in all); every other event was written. Read the file for the reasons",
                EventsQuarantinedWarning,
                stacklevel=3,
            )

    def claim_run(self, experiment: str, job: str | None) -> int:
        """Claim the next run number of `experiment` (or join distributed job `job`'s run)."""
        if self.remote is not None:
            return int(self.remote.claim_run(experiment, writer=self.identity.writer, job=job))
        # Without flush on stop, the run's events become durable with a later flush, and its
        # claim with them (one directory fsync per flush, not per run).
        defer = not self.policy.flush_on_stop
        return run_claims.claim_run(self.store, experiment, writer=self.identity.writer, job=job, defer_sync=defer)

    def latest_run(self, experiment: str) -> int | None:
        """The highest run number of `experiment`, or None."""
        if self.remote is not None:
            latest = self.remote.latest_run(experiment)
            return None if latest is None else int(latest)
        return run_claims.latest_run(self.store, experiment)

    def compact(
        self,
        experiment: str = "*",
        *,
        target_bytes: int | None = None,
        max_events: int | None = None,
        min_lag: float | None = None,
        min_files: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> CompactionReport:
        """Flush, then merge small segments of the matching experiments into large sorted files (DESIGN §3).

        Safe while other processes write, read or compact. Options left None keep the defaults of
        `eventlog.compaction.CompactionPolicy`.

        Args:
            experiment: an experiment name or a glob (`*`: all).
            target_bytes: input bytes merged into one compacted file.
            max_events: events per compacted file at most (bounds memory).
            min_lag: only merge segments at least this many seconds old (by the storage's clock).
            min_files: merge a partition only if it has at least this many input files.
            progress: called as `progress(done, total)` with input files merged so far.

        Returns:
            What was merged.

        Raises:
            CompactionError: a commit failed for good (the store failed, or too many conflicts).
            BackgroundError: the flush before compacting failed.
        """
        self.flush()
        chosen = {"target_bytes": target_bytes, "max_events": max_events, "min_lag": min_lag, "min_files": min_files}
        policy: dict[str, Any] = {name: value for name, value in chosen.items() if value is not None}
        return compact_store(self.store, experiment, progress=progress, **policy)

    def gc(
        self, *, grace: float = 3600.0, dry_run: bool = True, force: bool = False, progress: Callable[[int, int], None] | None = None
    ) -> GcReport:
        """Delete covered segments and orphaned compacted files unused for `grace` seconds.

        A dry run by default: the report lists what would be deleted.

        Args:
            grace: seconds (by the storage's clock) a file must have been unused.
            dry_run: only report (the default); pass False to delete.
            force: allow a grace period under the safe minimum (`eventlog.compaction.MIN_GRACE`).
            progress: called as `progress(done, total)` with files deleted so far.

        Raises:
            UnsafeGraceError: `grace` is under the safe minimum and `force` is not True.
        """
        return collect_garbage(self.store, grace=grace, dry_run=dry_run, force=force, progress=progress)

    def recover(self) -> int:
        """Turn leftover spool frames of dead writers into segments; returns how many events.

        A remote log sends them through its collector. See `ingest.recovery.recover_spools`.

        Raises:
            RecoveryError: the store (or collector) refused a segment; the spool is kept for a later try.
        """
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
        signals.unregister(self._signal_token)
        if self._compaction is not None:
            self._compaction.stop(timeout=0)  # a cycle under way ends by itself: compaction is crash-safe
        try:
            self.recorder.close()
        finally:
            _open_logs.discard(self)
            if self.remote is not None:
                self.remote.close()

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

    def _heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._last_heartbeat < HEARTBEAT_SECONDS:
            return
        self._last_heartbeat = now
        with self._active_lock:
            active = list(self._active)
        for experiment in active:
            experiment.heartbeat()


def open(  # shadows the builtin: the contract's name (DESIGN §10)
    uri: str | None = None,
    *,
    flush_every: float = 5.0,
    max_events: int = 100_000,
    max_buffer: int | None = None,
    on_full: Literal["block", "drop"] = "block",
    close_timeout: float = 30.0,
    durability: Literal["memory", "spool", "sync"] = "spool",
    flush_on_stop: bool | None = None,
    storage_options: dict[str, Any] | None = None,
    token: str | None = None,
    recover: bool = True,
    compact_every: float | None = None,
) -> Log:
    """Open the store at `uri` ($EVENTLOG_URI, else ./.eventlog) for logging and reading.

    The options are those of `Log`, which documents each one.

    Example:
        >>> log = eventlog.open("s3://bucket/log", flush_every=2.0)  # doctest: +SKIP

    Raises:
        StoreUnavailableError: the store cannot be reached.
        ValueError: an option is out of range.
    """
    return Log(
        uri,
        flush_every=flush_every,
        max_events=max_events,
        max_buffer=max_buffer,
        on_full=on_full,
        close_timeout=close_timeout,
        durability=durability,
        flush_on_stop=flush_on_stop,
        storage_options=storage_options,
        token=token,
        recover=recover,
        compact_every=compact_every,
    )


@atexit.register
def _close_all() -> None:
    for log in list(_open_logs):
        try:
            log.close()
        except Exception as exc:  # exit must not hang or crash; say what was lost
            print(f"eventlog: closing {log.uri} at exit failed: {exc}", file=sys.stderr)
