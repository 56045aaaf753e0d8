"""The compactor: merge many small raw segments into few large sorted files, safely (DESIGN §3).

Per partition (experiment, date), one round is:

1. read the latest manifest v;
2. pick the raw segments v does not cover and that are older than `min_lag` (storage mtimes
   against the storage's clock, `Store.now`), plus v's *small* compacted files of the partition
   (so that frequent compactions do not leave many small compacted files behind);
3. write compacted files of at most `max_events` events / about `target_bytes` input bytes each,
   sorted by (run, key, step, dt) and de-duplicated by event id (writer, seq), under a fresh
   unique name in `cmp/` (invisible: only a manifest makes a compacted file visible);
4. commit manifest v+1 = v with the new files, without the re-merged small ones, and with the
   merged segments covered, using create-if-absent;
5. if v+1 exists, another compactor won: if it already covers any of our inputs, drop our files
   (they were never visible) and back off; otherwise rebase on the newest manifest and retry.

A crash anywhere leaves an orphan compacted file (gc deletes it after the grace period) or a
committed manifest whose inputs are still present (readers skip them); never a gap or a duplicate.
A commit whose outcome is unknown (the call raised) is resolved by reading the version back and
comparing its commit id. Nothing here imports `ingest` or `query`.
"""

from __future__ import annotations

import fnmatch
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from eventlog.compaction.commit import try_create
from eventlog.compaction.stream import write_partition
from eventlog.core import layout
from eventlog.core.manifest import CompactedFile, Manifest, load_latest, segment_id
from eventlog.core.store import FileInfo, Store
from eventlog.errors import CommitRaceLostError, CompactionError

__all__ = ["CompactionError", "CompactionPolicy", "CompactionReport", "compact", "forget_experiment"]

#: A merge slower than this (half of gc's safe minimum grace) checks its files still exist before committing.
VERIFY_AFTER = 150.0

Progress = Callable[[int, int], None]
Fault = Callable[[str], None]


@dataclass(frozen=True)
class CompactionPolicy:
    """How the compactor merges (pass any field as a keyword to `compact`).

    Attributes:
        target_bytes: input bytes merged into one compacted file (default 128 MiB).
        max_events: events per compacted file at most; bounds memory (about 250 bytes per event).
        min_lag: only merge raw segments at least this many seconds old (by the storage's clock).
        min_files: merge a partition only if it has at least this many input files.
        small_fraction: a compacted file with fewer than `small_fraction * max_events` events is
            merged again with new segments.
        retries: commit attempts before giving up when other compactors keep winning.
    """

    target_bytes: int = 128 * 1024 * 1024
    max_events: int = 1_000_000
    min_lag: float = 0.0
    min_files: int = 2
    small_fraction: float = 0.5
    retries: int = 8

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> CompactionPolicy:
        """A policy from keyword options.

        Raises:
            TypeError: an option is not a policy field.
            ValueError: a value is out of range.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(f"unknown compaction option(s) {unknown}; known options are {sorted(known)}")
        policy = cls(**options)
        if policy.target_bytes <= 0 or policy.max_events <= 0 or policy.min_files < 1 or policy.retries < 1:
            raise ValueError(f"invalid compaction policy {policy}: sizes, min_files and retries must be positive")
        if policy.min_lag < 0:
            raise ValueError(f"min_lag must be >= 0 seconds, got {policy.min_lag}")
        return policy


@dataclass
class CompactionReport:
    """What one `compact` call did.

    Attributes:
        partitions: partitions merged (committed).
        files_merged: input files merged (raw segments plus re-merged small compacted files).
        segments_merged: raw segments now covered.
        files_written: compacted files committed.
        events: events in the committed files.
        bytes_in: bytes of the merged inputs.
        bytes_out: bytes of the committed files.
        seconds: wall time.
        version: the latest manifest version this call committed (None: nothing committed).
        conflicts: commits lost to another compactor (rebased or dropped).
        dropped: partitions given up because another compactor merged the same inputs.
        failed: partitions that could not be merged (a damaged file); the others went on.
    """

    partitions: int = 0
    files_merged: int = 0
    segments_merged: int = 0
    files_written: int = 0
    events: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    seconds: float = 0.0
    version: int | None = None
    conflicts: int = 0
    dropped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        """Merge throughput in events per second."""
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        if not self.files_merged:
            return f"nothing to compact ({self.seconds:.2f} s)"
        return (
            f"merged {self.files_merged} files ({self.segments_merged} segments, {self.bytes_in / 1e6:.1f} MB) "
            f"of {self.partitions} partition(s) into {self.files_written} file(s) ({self.bytes_out / 1e6:.1f} MB), "
            f"{self.events} events in {self.seconds:.2f} s ({self.events_per_second / 1e6:.2f} M events/s); "
            f"manifest version {self.version}" + (f"; {self.conflicts} conflict(s)" if self.conflicts else "")
        )


@dataclass
class _Work:
    """The inputs and outputs of one partition's merge."""

    partition: str
    segments: list[FileInfo]
    small: list[CompactedFile]
    written: list[CompactedFile] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    @property
    def input_paths(self) -> list[str]:
        return [f.path for f in self.small] + [s.path for s in self.segments]


def _noop(step: str) -> None:
    return None


def compact(
    store: Store,
    experiment: str = "*",
    *,
    progress: Progress | None = None,
    _fault: Fault | None = None,
    **policy: Any,
) -> CompactionReport:
    """Merge the small segments of the experiments matching `experiment` into large sorted files.

    Safe while writers append, readers read and other compactors run (DESIGN §3).

    Args:
        store: the store.
        experiment: an experiment name, or a glob (`*`: all).
        progress: called as `progress(done, total)` with input files merged so far.
        _fault: test hook called with each protocol step's name (`listed`, `file_written`,
            `before_commit`, `commit_written`, `committed`); raising there simulates a crash.
        **policy: fields of `CompactionPolicy` (`target_bytes`, `max_events`, `min_lag`, ...).

    Returns:
        A `CompactionReport`.

    Raises:
        TypeError, ValueError: an unknown or invalid policy option.
        CompactionError: a commit failed for good (the store failed, or too many conflicts), or
            a partition could not be merged (a damaged file; raised after every other partition
            was compacted, with the report as `.report`).
    """
    rules = CompactionPolicy.from_options(policy)
    fault = _fault or _noop
    started = time.perf_counter()
    report = CompactionReport()
    manifest = load_latest(store)
    work = _plan(store, experiment, manifest, rules)
    fault("listed")
    total = sum(len(w.input_paths) for w in work)
    done = 0
    if progress is not None:
        progress(0, total)
    failures: list[str] = []
    for item in work:
        try:
            _merge(store, item, manifest.version + 1, rules)
        except Exception as exc:  # one damaged partition must not stop the others
            store.delete([f.path for f in item.written])  # never visible: no manifest names them
            failures.append(
                f"compacting {item.partition} in {store.uri} failed while merging its {len(item.input_paths)} files "
                f"({type(exc).__name__}: {exc}); nothing of it was committed and readers are unaffected; "
                "fix or remove the file it names, then run compact again"
            )
            report.failed.append(item.partition)
            continue
        fault("file_written")
        try:
            version = _commit(store, item, rules, fault, report)
        except CommitRaceLostError:
            store.delete([f.path for f in item.written])
            report.dropped.append(item.partition)
        else:
            report.version = version
            report.partitions += 1
            report.files_merged += len(item.input_paths)
            report.segments_merged += len(item.segments)
            report.files_written += len(item.written)
            report.events += sum(f.events for f in item.written)
            report.bytes_in += sum(s.size for s in item.segments) + sum(f.bytes for f in item.small)
            report.bytes_out += sum(f.bytes for f in item.written)
            fault("committed")
        done += len(item.input_paths)
        if progress is not None:
            progress(done, total)
    report.seconds = time.perf_counter() - started
    if failures:
        error = CompactionError(
            f"{len(failures)} of {len(work)} partition(s) could not be compacted (the others were: {report}): "
            + "; ".join(failures)
        )
        error.report = report  # type: ignore[attr-defined]
        raise error
    return report


def _plan(store: Store, experiment: str, manifest: Manifest, rules: CompactionPolicy) -> list[_Work]:
    """The partitions worth merging, with their inputs."""
    pattern = "*" if experiment == "all" else experiment
    is_name = not any(ch in pattern for ch in "*?[")
    prefix = layout.experiment_dir(layout.SEGMENTS, experiment) if is_name else layout.SEGMENTS
    covered = manifest.covered_ids()
    # Storage mtimes are set by the storage's clock: this machine's may be hours off (see gc).
    cutoff = store.now() - rules.min_lag if rules.min_lag > 0 else math.inf
    by_partition: dict[str, list[FileInfo]] = {}
    for info in store.find(prefix):
        found = segment_id(info.path)
        if found is None or found in covered or info.mtime > cutoff:
            continue
        if not fnmatch.fnmatchcase(layout.experiment_of(info.path) or "", pattern):
            continue
        by_partition.setdefault(found[0], []).append(info)
    small_limit = rules.small_fraction * rules.max_events
    work = []
    for partition, segments in sorted(by_partition.items()):
        small = [f for f in manifest.files if f.partition == partition and f.events < small_limit]
        if len(segments) + len(small) >= rules.min_files:
            work.append(_Work(partition, segments, small))
    return work


def _merge(store: Store, item: _Work, version: int, rules: CompactionPolicy) -> None:
    """Write the compacted files of one partition, streaming (see `eventlog.compaction.stream`)."""
    item.started = time.monotonic()
    inputs = sorted(
        [(f.path, f.bytes, f.runs) for f in item.small] + [(s.path, s.size, layout.segment_runs(s.path)) for s in item.segments],
        key=_by_runs,
    )
    write_partition(
        store,
        f"{layout.COMPACTED}/{item.partition}",
        version,
        [(path, size) for path, size, _ in inputs],
        max_events=rules.max_events,
        target_bytes=rules.target_bytes,
        written=item.written,
    )


def _by_runs(source: tuple[str, int, tuple[int, int] | None]) -> tuple[int, int, str]:
    """Inputs in order of their runs (those stating none first), so that each compacted file holds
    a narrow range of runs and a reader of one run opens few of them (`CompactedFile.runs`)."""
    path, _, runs = source
    low, high = runs if runs is not None else (-1, -1)
    return low, high, path


def _commit(store: Store, item: _Work, rules: CompactionPolicy, fault: Fault, report: CompactionReport) -> int:
    """Commit a manifest version that adds `item`'s output; returns the version.

    Raises:
        CommitRaceLostError: another compactor merged some of the same inputs first.
        CompactionError: the store failed, or the retries ran out.
    """
    _check_files_survived(store, item)
    base = load_latest(store)
    new_covered = [sid for sid in (segment_id(s.path) for s in item.segments) if sid is not None]
    for attempt in range(rules.retries):
        _check_still_ours(base, item, new_covered)
        candidate = base.evolve(
            add_files=item.written, remove_files=[f.path for f in item.small], add_covered=new_covered
        )
        fault("before_commit")
        outcome = try_create(store, candidate, fault)
        if outcome:
            return candidate.version
        report.conflicts += 1
        _back_off(attempt)
        base = load_latest(store)
    raise CompactionError(
        f"compacting {item.partition} in {store.uri}: other compactors won {rules.retries} commits in a row; "
        "nothing was changed; run compact again later (or run one compactor at a time)"
    )


def _check_files_survived(store: Store, item: _Work) -> None:
    """After a merge slower than half gc's safe minimum grace, check gc did not take our files as orphans."""
    if time.monotonic() - item.started < VERIFY_AFTER:
        return
    missing = [f.path for f in item.written if not store.exists(f.path)]
    if missing:
        raise CompactionError(
            f"compacting {item.partition} in {store.uri} took longer than gc's grace period: {missing[0]} was deleted "
            "as an orphan before the commit; nothing was committed: run gc with a longer grace, or lower max_events"
        )


def _back_off(attempt: int) -> None:
    """Wait a random time (up to 0.02 s, doubled per attempt) after a lost commit: the winner may commit again."""
    time.sleep(random.uniform(0.0, 0.02 * 2**attempt))


def _check_still_ours(base: Manifest, item: _Work, segment_ids: list[tuple[str, str, int]]) -> None:
    visible = {f.path for f in base.files}
    if not base.covered_ids([item.partition]).isdisjoint(segment_ids) or any(f.path not in visible for f in item.small):
        raise CommitRaceLostError(item.partition)


def forget_experiment(store: Store, experiment: str, *, retries: int = 8) -> int | None:
    """Commit a manifest version without `experiment`'s compacted files and covered segments.

    Call it *before* deleting an experiment's files (`Experiment.clear`): readers then see only
    its raw segments until they are deleted, never a manifest naming a deleted file.

    Returns:
        The committed version, or None if no manifest mentions the experiment.

    Raises:
        CompactionError: other commits kept winning `retries` times.
    """
    for attempt in range(retries):
        base = load_latest(store)
        candidate = base.without_experiment(experiment)
        if (candidate.files, candidate.covered) == (base.files, base.covered):
            return None
        if try_create(store, candidate, _noop):
            return candidate.version
        _back_off(attempt)
    raise CompactionError(
        f"forgetting {experiment!r} in {store.uri}: other commits won {retries} times in a row; "
        "nothing was changed or deleted: try again"
    )
