"""Garbage collection: delete what no reader can need any more, after a grace period (DESIGN §3).

Readers take a snapshot (a manifest version plus a listing) and may scan it for a while, so a file
is deleted only when no snapshot younger than `grace` seconds can contain it. Ages are storage
timestamps (`Store.find` mtimes), compared with the storage's own clock (`Store.now`, a probe object),
so a machine whose clock is off cannot shorten the grace period:

- a raw segment is deleted once it is covered by a manifest version committed more than `grace`
  ago (readers of older versions, which still read the segment, are older than `grace`);
- a compacted file is deleted when it is older than `grace` and no manifest version that was
  current within the last `grace` seconds lists it (orphans of crashed or losing compactors, and
  small files merged again);
- a manifest version is deleted once it was superseded more than `grace` ago (the latest is kept),
  and a manifest part once it is older than `grace` and no version in use names it;
- a temporary file (`*.tmp`, local stores) is deleted once it is older than `grace`: a writer
  killed between writing and renaming leaves one, and a live writer renames its own within
  seconds;
- a file named by a pinned snapshot (`eventlog.core.pins`) is kept until the pin expires, and an
  expired pin is deleted;
- a tombstone (a covered segment's entry in the manifest) is dropped once its segment is gone and
  its partition is `TOMBSTONE_DAYS` old (`eventlog.core.tombstones` says why that is safe): gc
  commits a manifest version without them, so manifests stop growing with the archive's history.

Dry run by default; a grace period under `MIN_GRACE` seconds is refused unless `force=True`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from eventlog.compaction.commit import try_create
from eventlog.core import layout
from eventlog.core.manifest import (
    covered_set,
    list_parts,
    list_versions,
    load_latest,
    part_paths,
    read_manifest,
    segment_id,
    version_of,
)
from eventlog.core.pins import MIN_GRACE, active_pins, expired_pins
from eventlog.core.store import FileInfo, Store
from eventlog.core.tombstones import expired_tombstones
from eventlog.errors import UnsafeGraceError

__all__ = ["MIN_GRACE", "GcReport", "UnsafeGraceError", "check_grace", "collect_garbage"]

_log = logging.getLogger(__name__)


@dataclass
class GcReport:
    """What `collect_garbage` deleted (or, in a dry run, would delete).

    Attributes:
        dry_run: True if nothing was deleted.
        grace: the grace period used, in seconds.
        segments: covered raw segments.
        compacted: orphaned or superseded compacted files.
        manifests: superseded manifest versions.
        manifest_parts: manifest parts no version in use names (superseded, or of a losing commit).
        temporary: temporary files left by killed writers.
        pins: expired pins.
        pinned: files gc would have deleted but a pin still holds.
        tombstones_expired: tombstones dropped from the manifest (would be, in a dry run).
        bytes: total size of those files.
        seconds: wall time.
        clock_offset: the storage's clock minus this machine's, in seconds (None: the storage
            clock could not be read and this machine's was used).
    """

    dry_run: bool
    grace: float
    segments: list[str] = field(default_factory=list)
    compacted: list[str] = field(default_factory=list)
    manifests: list[str] = field(default_factory=list)
    manifest_parts: list[str] = field(default_factory=list)
    temporary: list[str] = field(default_factory=list)
    pins: list[str] = field(default_factory=list)
    pinned: int = 0
    tombstones_expired: int = 0
    bytes: int = 0
    seconds: float = 0.0
    clock_offset: float | None = None

    @property
    def files(self) -> list[str]:
        """Every path deleted (or to delete)."""
        return [*self.segments, *self.compacted, *self.temporary, *self.pins, *self.manifests, *self.manifest_parts]

    def __str__(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        return (
            f"{verb} {len(self.segments)} covered segment(s), {len(self.compacted)} unused compacted file(s) and "
            f"{len(self.manifests)} old manifest(s) ({len(self.manifest_parts)} part(s))"
            + (f", {len(self.temporary)} leftover temporary file(s)" if self.temporary else "")
            + (f", {len(self.pins)} expired pin(s); kept {self.pinned} pinned file(s)" if self.pins or self.pinned else "")
            + (f", {self.tombstones_expired} expired tombstone(s)" if self.tombstones_expired else "")
            + f", {self.bytes / 1e6:.1f} MB (grace {self.grace:g} s, {self.seconds:.2f} s)"
            f"{self._clock_note()}"
        )

    def _clock_note(self) -> str:
        if self.clock_offset is None:
            return "; ages by this machine's clock (the storage's could not be read)"
        if abs(self.clock_offset) < 60:
            return ""
        direction = "ahead of" if self.clock_offset > 0 else "behind"
        return f"; the storage's clock is {abs(self.clock_offset):,.0f} s {direction} this machine's, ages are by the storage's"


def check_grace(grace: float, *, force: bool = False) -> None:
    """Check a gc grace period before any work starts.

    Raises:
        UnsafeGraceError: `grace < MIN_GRACE` without `force=True`.
        ValueError: a negative grace period.
    """
    if grace < 0:
        raise ValueError(f"grace must be >= 0 seconds, got {grace}")
    if grace < MIN_GRACE and not force:
        raise UnsafeGraceError(
            f"grace={grace:g} s is shorter than the safe minimum of {MIN_GRACE:g} s: readers scanning longer than that "
            "would fail; pass force=True (CLI: --force) if no reader can be running"
        )


def collect_garbage(
    store: Store,
    *,
    grace: float = 3600.0,
    dry_run: bool = True,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
    _fault: Callable[[str], None] | None = None,
) -> GcReport:
    """Delete covered segments, unused compacted files and old manifests older than `grace` seconds.

    Args:
        store: the store.
        grace: seconds a file must have been unused (by storage time) before it is deleted.
        dry_run: only report what would be deleted (the default).
        force: allow a grace period under `MIN_GRACE` (readers scanning longer may fail).
        progress: called as `progress(done, total)` with files deleted so far.
        _fault: test hook called with `deleting` before each deletion; raising simulates a crash.

    Returns:
        A `GcReport`.

    Raises:
        UnsafeGraceError: `grace < MIN_GRACE` without `force=True`.
        ValueError: a negative grace period.
    """
    check_grace(grace, force=force)
    started = time.perf_counter()
    report = GcReport(dry_run=dry_run, grace=grace)
    now = _storage_now(store, report)
    cutoff = now - grace
    versions = list_versions(store)
    if versions:
        _plan(store, versions, cutoff, report)
    _keep_pinned(store, now, report)
    for leftover in store.find("", temporary=True):
        if leftover.mtime <= cutoff:
            report.temporary.append(leftover.path)
            report.bytes += leftover.size
    if not dry_run:
        _delete(store, report, progress, _fault)
    if versions:
        _expire_tombstones(store, now, report, dry_run)
    report.seconds = time.perf_counter() - started
    return report


def _expire_tombstones(store: Store, now: float, report: GcReport, dry_run: bool, *, retries: int = 8) -> None:
    """Commit a version without the tombstones that may expire (count them only, in a dry run)."""
    planned = set(report.segments) if dry_run else set()
    for _ in range(retries):
        base = load_latest(store)
        listed = {sid for f in store.find(layout.SEGMENTS) if f.path not in planned and (sid := segment_id(f.path)) is not None}
        expired = expired_tombstones(base, listed, now)
        report.tombstones_expired = len(expired)
        if not expired or dry_run:
            return
        if try_create(store, base.evolve(expire_covered=expired), lambda _: None):
            return
    _log.warning("eventlog gc: other commits kept winning; the expired tombstones stay until the next gc")


def _storage_now(store: Store, report: GcReport) -> float:
    """The storage's time now (this machine's, with a warning, if the store refuses the probe)."""
    local = time.time()
    try:
        now = store.now()
    except OSError as exc:
        _log.warning("eventlog gc: could not read the storage's clock (%s); using this machine's clock instead", exc)
        return local
    report.clock_offset = now - local
    return now


def _plan(store: Store, versions: list[FileInfo], cutoff: float, report: GcReport) -> None:
    # Version i was current from its own mtime until version i+1's mtime; "in use" = current at
    # some moment within the grace period. The latest is always in use.
    in_use = [v for i, v in enumerate(versions) if i == len(versions) - 1 or versions[i + 1].mtime > cutoff]
    settled = [v for v in versions if v.mtime <= cutoff]
    keep: set[str] = set()
    for info in in_use:
        keep.update(f.path for f in read_manifest(store, version_of(info.path) or 0).files)
        keep.update(part_paths(store, version_of(info.path) or 0))
    sizes = 0
    if settled:
        covered = covered_set(read_manifest(store, version_of(settled[-1].path) or 0))
        for seg in store.find(layout.SEGMENTS):
            if seg.path in covered and seg.mtime <= cutoff:
                report.segments.append(seg.path)
                sizes += seg.size
    for cmp in store.find(layout.COMPACTED):
        if cmp.path not in keep and cmp.mtime <= cutoff:
            report.compacted.append(cmp.path)
            sizes += cmp.size
    for i, info in enumerate(versions[:-1]):
        if versions[i + 1].mtime <= cutoff:
            report.manifests.append(info.path)
            sizes += info.size
    for part in list_parts(store):
        if part.path not in keep and part.mtime <= cutoff:
            report.manifest_parts.append(part.path)
            sizes += part.size
    report.bytes = sizes


def _keep_pinned(store: Store, now: float, report: GcReport) -> None:
    """Drop the files of active pins from the plan; plan the expired pins' deletion."""
    pinned = {path for pin in active_pins(store, now) for path in pin.files}
    if pinned:
        for planned in (report.segments, report.compacted):
            kept = [path for path in planned if path in pinned]
            report.pinned += len(kept)
            report.bytes -= sum(store.fs.size(store.full_path(path)) for path in kept)
            planned[:] = [path for path in planned if path not in pinned]
    report.pins = [f"{layout.PINS}/{pin.id}.json" for pin in expired_pins(store, now)]


def _delete(
    store: Store, report: GcReport, progress: Callable[[int, int], None] | None, fault: Callable[[str], None] | None
) -> None:
    # Manifests last: a crash midway leaves every manifest that still names a deleted file unused.
    paths = report.files
    if progress is not None:
        progress(0, len(paths))
    for done, path in enumerate(paths, start=1):
        if fault is not None:
            fault("deleting")
        store.delete([path])
        if progress is not None:
            progress(done, len(paths))
