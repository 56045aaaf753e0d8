"""Compaction that happens by itself: a watcher compacts (and optionally collects garbage) on a timer.

Users do not run `compact` by hand, so something long-lived does it for them: `eventlog compact
--watch`, `eventlog serve` (the collector's process, by default every 60 s, with gc), a logger opened with
`eventlog.open(compact_every=S)` (or `$EVENTLOG_COMPACT_EVERY`: it compacts the experiments it
writes), or a `CompactionWatcher` in any long-lived Python process. Each cycle runs `compact`
with an automatic policy: a partition is merged once it holds `min_files` (8) inputs that are at
least `min_lag` (30 s) old, so the partitions being written right now are not rewritten every
cycle. Any number of watchers (and manual compactions) may run against one store at once:
compaction is race-safe by its manifest commits (DESIGN §3); the losers of a race drop their
work. A cycle that fails is logged and the next one tries again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import fields
from typing import Any

from eventlog.compaction.compactor import CompactionPolicy, CompactionReport, compact
from eventlog.compaction.gc import GcReport, check_grace, collect_garbage
from eventlog.core.store import Store
from eventlog.errors import EventLogError

__all__ = ["AUTOMATIC_POLICY", "CompactionWatcher"]

_log = logging.getLogger(__name__)

#: The policy of automatic compaction (any `CompactionPolicy` field may be overridden).
AUTOMATIC_POLICY: dict[str, Any] = {"min_files": 8, "min_lag": 30.0}


class CompactionWatcher:
    """Compacts a store every `every` seconds, in a daemon thread (`start`) or the caller's (`run`).

    Args:
        store: the store.
        experiment: the experiments to compact: a name or glob, or a function returning names
            (called each cycle: a logger passes the experiments it writes).
        every: seconds between the starts of two cycles.
        gc_grace: also collect garbage each cycle with this grace period (None: no gc).
        on_cycle: called with each cycle's reports (compaction, gc or None).
        **policy: `CompactionPolicy` fields overriding `AUTOMATIC_POLICY`.

    Raises:
        ValueError: `every` is not positive, or an invalid policy.
        UnsafeGraceError: `gc_grace` is under `MIN_GRACE` (300 s): readers could lose files mid-scan.
    """

    def __init__(
        self,
        store: Store,
        experiment: str | Callable[[], Iterable[str]] = "*",
        *,
        every: float = 60.0,
        gc_grace: float | None = None,
        on_cycle: Callable[[CompactionReport, GcReport | None], None] | None = None,
        **policy: Any,
    ) -> None:
        if not every > 0:
            raise ValueError(f"every must be a positive number of seconds, got {every}")
        if gc_grace is not None:
            check_grace(gc_grace)  # at start, not as a warning every cycle
        self.store = store
        self.experiment = experiment
        self.every = every
        self.gc_grace = gc_grace
        self.on_cycle = on_cycle
        self.policy = {**AUTOMATIC_POLICY, **policy}
        CompactionPolicy.from_options(self.policy)  # an invalid option fails here, not every cycle
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> CompactionReport | None:
        """One cycle: compact, then gc if asked; returns the compaction report (None if the cycle failed).

        Each experiment (or pattern) is compacted on its own: one that fails (a damaged file, the
        store unreachable) is logged and retried next cycle, and the others still go on.
        """
        patterns = [self.experiment] if isinstance(self.experiment, str) else sorted(self.experiment())
        reports = [report for report in map(self._compact, patterns) if report is not None]
        if len(reports) < len(patterns):
            return None
        report = _combined(reports)
        collected = None
        if self.gc_grace is not None:
            try:
                collected = collect_garbage(self.store, grace=self.gc_grace, dry_run=False)
            except (EventLogError, OSError) as exc:
                self._warn("garbage collection", exc)
                return None
        if self.on_cycle is not None:
            self.on_cycle(report, collected)
        return report

    def _compact(self, pattern: str) -> CompactionReport | None:
        try:
            return compact(self.store, pattern, **self.policy)
        except (EventLogError, OSError) as exc:  # the store or one partition failed: try again next cycle
            self._warn(f"compaction of {pattern}", exc)
            return None

    def _warn(self, what: str, exc: BaseException) -> None:
        _log.warning("eventlog: automatic %s in %s failed (%s); retrying in %g s", what, self.store.uri, exc, self.every)

    def run(self, cycles: int | None = None) -> None:
        """Run cycles in this thread until `stop()` (or `cycles` cycles have run)."""
        done = 0
        while not self._stop.is_set() and (cycles is None or done < cycles):
            self.run_once()
            done += 1
            if cycles is None or done < cycles:
                self._stop.wait(self.every)

    def start(self) -> CompactionWatcher:
        """Run cycles in a daemon thread until `stop()`; returns self."""
        self._thread = threading.Thread(target=self.run, name="eventlog-compaction", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop after the current cycle; waits up to `timeout` seconds for it to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


def _combined(reports: list[CompactionReport]) -> CompactionReport:
    """One report of several `compact` calls (counts and lists added, the newest version kept)."""
    total = CompactionReport()
    for report in reports:
        for item in fields(CompactionReport):
            mine, theirs = getattr(total, item.name), getattr(report, item.name)
            if item.name == "version":
                setattr(total, item.name, theirs if mine is None else max(mine, theirs or 0))
            else:
                setattr(total, item.name, mine + theirs)
    return total
