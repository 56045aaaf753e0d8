"""What every importer shares: a deterministic event writer over the core, and the import report.

Importers write through the core only (DESIGN layering): run numbers via
`eventlog.core.run_claims.claim_run`, events as `Event` structs, segments via `ingest.wire.batch_segments`
(grouped by experiment, date and writer, named by first seq) and `eventlog.core.segment.publish`
(create-if-absent).

Re-import is an upsert. An importer gives each source run a stable writer id and job id (MLflow
run id, TensorBoard directory) and each source event a stable sequence number (`stable_seq`: the
same event of the same source always gets the same number), and skips the numbers the store
already holds for that writer (`StoredEvents`). Importing the same data again writes nothing; a run
that grew since gains exactly its new events.
"""

from __future__ import annotations

import hashlib
import re
import socket
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from eventlog.core import layout
from eventlog.core.event import Event
from eventlog.core.names import validate_experiment
from eventlog.core.segment import publish
from eventlog.core.store import Store
from eventlog.core.values import event_value
from ingest.wire import batch_segments

__all__ = [
    "EventWriter",
    "ImportReport",
    "Progress",
    "StoredEvents",
    "content_index",
    "safe_experiment_name",
    "stable_seq",
    "stable_writer_id",
]

#: Called with a one-line message per imported run (the CLI shows it).
Progress = Callable[[str], None]
_FLUSH_EVENTS = 100_000
_UNSAFE_NAME = re.compile(r"[/\\=\x00-\x1f\x7f]+")
_MAX_ERRORS = 100
_INDEX_BITS = 32


@dataclass
class ImportReport:
    """What an import did.

    Attributes:
        experiments: the experiments written to, sorted.
        runs: runs imported.
        events: events written by this import.
        already_present: source events an earlier import already wrote (not written again).
        segments_created: new segment files (0 when the same data was imported before).
        skipped: source records left out (deleted runs, unsupported summaries, bad lines).
        errors: one message per bad record (`line 3: ...`), at most 100.
    """

    experiments: list[str] = field(default_factory=list)
    runs: int = 0
    events: int = 0
    already_present: int = 0
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


def stable_seq(event: str, key: str, index: int) -> int:
    """The sequence number of the `index`-th source event of kind `event` and key `key`.

    The high 31 bits hash `(event, key)`, the low 32 bits hold `index`, so the same source event
    gets the same number on every import and a key's events keep their order.

    Raises:
        ValueError: `index` is negative or not below 2**32.
    """
    if not 0 <= index < 1 << _INDEX_BITS:
        raise ValueError(f"event index {index} out of range [0, 2**32) for {event} {key!r}")
    return (zlib.crc32(f"{event}\0{key}".encode()) & 0x7FFFFFFF) << _INDEX_BITS | index


def content_index(*parts: object) -> int:
    """A 32-bit index derived from content, for events that replace each other (a newer `stop`)."""
    return zlib.crc32("\0".join(map(str, parts)).encode())


class StoredEvents:
    """The sequence numbers already in the store for the writers of one importer (`mlflow-...`).

    One experiment is read once, on first use: its raw segments of matching writers (found by
    path) and the `writer` and `seq` columns of its compacted files. Orphaned or covered files are
    read too; they hold copies of live events, which is harmless for a set of numbers.
    """

    def __init__(self, store: Store, writer_prefix: str) -> None:
        self.store = store
        self.writer_prefix = writer_prefix
        self._seqs: dict[str, dict[str, set[int]]] = {}

    def seqs(self, experiment: str, writer: str) -> set[int]:
        """The sequence numbers `writer` already has in `experiment` (empty for a new run)."""
        if experiment not in self._seqs:
            self._seqs[experiment] = self._load(experiment)
        return self._seqs[experiment].get(writer, set())

    def _load(self, experiment: str) -> dict[str, set[int]]:
        found: dict[str, set[int]] = {}
        raw = self.store.find(layout.experiment_dir(layout.SEGMENTS, experiment))
        compacted = self.store.find(layout.experiment_dir(layout.COMPACTED, experiment))
        mine = [f.path for f in raw if f"/{self.writer_prefix}" in f.path]
        for path in [*mine, *(f.path for f in compacted)]:
            for writer, seqs in self._read(path):
                found.setdefault(writer, set()).update(seqs)
        return found

    def _read(self, path: str) -> Iterable[tuple[str, list[int]]]:
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        try:
            with self.store.fs.open(self.store.full_path(path), "rb") as handle:
                table = pq.read_table(handle, columns=["writer", "seq"])
        except FileNotFoundError:  # gc removed a covered file meanwhile: its events are in a compacted one
            return []
        table = table.filter(pc.starts_with(table["writer"], self.writer_prefix))
        if table.num_rows == 0:
            return []
        grouped: dict[str, list[int]] = {}
        for writer, seq in zip(table["writer"].to_pylist(), table["seq"].to_pylist(), strict=True):
            grouped.setdefault(writer, []).append(seq)
        return grouped.items()


class EventWriter:
    """Buffers imported events of one writer and publishes them as segments.

    Args:
        store: the target store.
        writer: the writer id (stable per source run for idempotent imports).
        report: the report to count into.
        node: the `node` column of the events.
        stored: sequence numbers this writer already has in the store; events given one of them
            are counted as `already_present` and not written again.
    """

    def __init__(
        self, store: Store, writer: str, report: ImportReport, *, node: str | None = None, stored: set[int] | None = None
    ) -> None:
        self.store = store
        self.writer = writer
        self.report = report
        self.node = node or socket.gethostname() or "localhost"
        self.stored = stored or set()
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
        seq: int | None = None,
    ) -> None:
        """Add one event; numbers go into `value`, anything else is stored as JSON text (see `event_value`).

        `seq` is the event's stable sequence number (`stable_seq`); without it events are numbered
        0, 1, 2, ... in the order added. An event whose `seq` the store already holds is skipped.
        """
        if seq is None:
            seq = self._seq
        if seq in self.stored:
            self.report.already_present += 1
            return
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
                seq,
                extra or {},
            )
        )
        self._seq = seq + 1
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
