"""What every importer shares: a deterministic event writer over the core, and the import report.

Importers write through the core only (DESIGN layering): run numbers via
`eventlog.core.run_claims.claim_run`, events as `Event` structs, segments via `ingest.wire.batch_segments`
(grouped by experiment, date and writer, named by first seq) and `eventlog.core.segment.publish`
(create-if-absent). An importer that gives a source run a stable writer id and job id (MLflow run
id, TensorBoard directory) is idempotent: importing the same data again finds the same run number
and the same segment names, and creates nothing.
"""

from __future__ import annotations

import hashlib
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eventlog.core.event import Event
from eventlog.core.names import validate_experiment
from eventlog.core.segment import publish
from eventlog.core.store import Store
from eventlog.core.values import event_value
from ingest.wire import batch_segments

__all__ = ["EventWriter", "ImportReport", "Progress", "safe_experiment_name", "stable_writer_id"]

#: Called with a one-line message per imported run (the CLI shows it).
Progress = Callable[[str], None]
_FLUSH_EVENTS = 100_000
_UNSAFE_NAME = re.compile(r"[/\\=\x00-\x1f\x7f]+")
_MAX_ERRORS = 100


@dataclass
class ImportReport:
    """What an import did.

    Attributes:
        experiments: the experiments written to, sorted.
        runs: runs imported.
        events: events written (including ones an earlier import of the same data already wrote).
        segments_created: new segment files (0 when the same data was imported before).
        skipped: source records left out (deleted runs, unsupported summaries, bad lines).
        errors: one message per bad record (`line 3: ...`), at most 100.
    """

    experiments: list[str] = field(default_factory=list)
    runs: int = 0
    events: int = 0
    segments_created: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def add_experiment(self, name: str) -> None:
        """Record that `name` was written to."""
        if name not in self.experiments:
            self.experiments.append(name)
            self.experiments.sort()

    def error(self, message: str) -> None:
        """Record a bad record (it is skipped; the import goes on)."""
        self.skipped += 1
        if len(self.errors) < _MAX_ERRORS:
            self.errors.append(message)


def safe_experiment_name(name: str) -> str:
    """`name` made valid as an experiment name (MLflow allows `/` and `=`; we do not): unsafe runs become `-`."""
    cleaned = _UNSAFE_NAME.sub("-", name).strip(" -") or "imported"
    cleaned = cleaned[:256]
    return validate_experiment("imported" if cleaned in (".", "..") else cleaned)


def stable_writer_id(prefix: str, source: str) -> str:
    """A writer id that is the same each time the same source is imported."""
    return f"{prefix}-{hashlib.sha1(source.encode()).hexdigest()[:20]}"


class EventWriter:
    """Buffers imported events of one writer and publishes them as segments.

    Args:
        store: the target store.
        writer: the writer id (stable per source run for idempotent imports).
        report: the report to count into.
        node: the `node` column of the events.
    """

    def __init__(self, store: Store, writer: str, report: ImportReport, *, node: str | None = None) -> None:
        self.store = store
        self.writer = writer
        self.report = report
        self.node = node or socket.gethostname() or "localhost"
        self._seq = 0
        self._events: list[Event] = []

    def add(
        self,
        experiment: str,
        run: int,
        event: str,
        key: str,
        value: Any,
        *,
        dt_ns: int,
        step: int | None = None,
        userid: str = "",
        rank: int | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        """Add one event; numbers go into `value`, anything else is stored as JSON text (see `event_value`)."""
        number, text = event_value(value, key=key, event=event)
        self._events.append(
            Event(
                experiment,
                run,
                step,
                event,
                key,
                number,
                text,
                dt_ns,
                self.node,
                userid,
                rank,
                self.writer,
                self._seq,
                extra or {},
            )
        )
        self._seq += 1
        if len(self._events) >= _FLUSH_EVENTS:
            self.flush()

    def flush(self) -> None:
        """Publish everything added so far (create-if-absent: a repeated import creates nothing)."""
        if not self._events:
            return
        for segment in batch_segments(self._events):
            self.report.segments_created += publish(self.store, segment)
            self.report.add_experiment(segment.experiment)
        self.report.events += len(self._events)
        self._events = []
