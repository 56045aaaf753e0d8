"""Recovery: publish the spool frames of dead writers that never became segments (DESIGN §4).

Run by `Log.recover()`, `eventlog recover`, and automatically when a log is opened (a remote log's
spools are sent through its collector, `recover_remote_spools`). For every
`<writer>.spool` file in the store's spool directory whose lock nobody holds (its writer is dead:
the kernel drops a `flock` when the process dies, however it dies), each valid frame is
published under the segment name recorded in it, with create-if-absent. A frame whose segment is
already in the store (the writer published it and died before emptying its spool, or a second
recovery runs at the same time) is skipped, so recovery run twice, or concurrently, never
duplicates. A torn or corrupt frame is detected by its CRC, reported and skipped; everything
before and after it is kept. A fully recovered spool file is deleted; one with bad frames is
renamed to `<name>.corrupt` (kept for inspection, never read again).
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from eventlog.core import layout
from eventlog.core.segment import Segment, publish
from eventlog.core.store import Store
from eventlog.errors import RecoveryError
from ingest.frames import decode_frames, iter_segments
from ingest.spool import SUFFIX, spool_dir

if TYPE_CHECKING:  # only a type here: a local log's open (which recovers) need not import the HTTP client
    from ingest.remote import RemoteClient

__all__ = ["RecoveryError", "RecoveryReport", "recover", "recover_remote_spools", "recover_spools"]

_log = logging.getLogger("eventlog.recovery")


@dataclass
class RecoveryReport:
    """What one recovery did.

    Attributes:
        events: events published by this recovery (not counting segments already in the store).
        segments: segments published by this recovery.
        already_present: frames whose segment was already in the store (skipped).
        spools: dead writers' spool files processed.
        live: spool files skipped because their writer is alive.
        problems: torn/corrupt regions found before the end of a file, one message each (file,
            offset, reason).
        corrupt_files: spool files renamed to `*.corrupt` because they had such problems.
        torn_tails: spool files whose last frame was unfinished: the append the crash cut short,
            whose batch was never published nor acknowledged. Dropped, and not a problem.
    """

    events: int = 0
    segments: int = 0
    already_present: int = 0
    spools: int = 0
    live: int = 0
    problems: list[str] = field(default_factory=list)
    corrupt_files: list[str] = field(default_factory=list)
    torn_tails: int = 0

    def __int__(self) -> int:
        return self.events


def _try_lock(path: str) -> int | None:
    """An fd holding the exclusive lock on `path`, or None if its writer lives (or it is gone)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _recover_file(
    publish_one: Callable[[Segment], bool], where: str, retry: str, path: str, fd: int, report: RecoveryReport
) -> None:
    with open(fd, "rb", closefd=False) as f:
        data = f.read()
    scan = decode_frames(data)
    name = os.path.basename(path)
    for problem in scan.problems:
        message = f"{name}: {problem}"
        report.problems.append(message)
        _log.warning("eventlog recovery: %s (the frames before and after it are kept)", message)
    if scan.torn_tail:
        report.torn_tails += 1
        _log.info(
            "eventlog recovery: %s: the last batch (%d bytes) was cut short by the crash; it was never acknowledged",
            name,
            scan.torn_tail,
        )
    for segment in iter_segments(scan.frames):
        if not segment.path.startswith("seg/") or ".." in segment.path.split("/"):
            message = f"{name}: frame for unexpected path {segment.path!r} skipped"
            report.problems.append(message)
            _log.warning("eventlog recovery: %s", message)
            continue
        try:
            created = publish_one(segment)
        except Exception as exc:
            raise RecoveryError(
                f"recovering {path}: publishing {segment.path} to {where} failed ({type(exc).__name__}: {exc}); "
                f"the spool file is kept: {retry}"
            ) from exc
        if created:
            report.segments += 1
            report.events += segment.count
        else:
            report.already_present += 1
    if scan.problems:
        corrupt = f"{path}.{time.strftime('%Y%m%dT%H%M%S')}.corrupt"
        os.rename(path, corrupt)
        report.corrupt_files.append(corrupt)
    else:
        os.unlink(path)
    report.spools += 1


def recover_spools(store: Store, *, spool_base: str | None = None) -> RecoveryReport:
    """Publish the leftover spool frames of every dead writer of `store` on this machine.

    Args:
        store: the store the spools belong to.
        spool_base: the spool root (default `$EVENTLOG_SPOOL_DIR`, else the user's cache dir).

    Returns:
        What was recovered and what was wrong (see `RecoveryReport`).

    Raises:
        RecoveryError: the store refused a segment; that spool file is kept for a later try.
    """
    retry = f"once the store is reachable, run `eventlog recover --store {store.uri}` or open the log again"
    synced: set[str] = set()
    return _recover_directory(spool_dir(store, spool_base), lambda segment: _publish_recovered(store, segment, synced), store.uri, retry)


def _publish_recovered(store: Store, segment: Segment, synced: set[str]) -> bool:
    """Publish a dead writer's segment, first making its experiment's run claims durable: a writer
    opened with `flush_on_stop=False` leaves them to its next flush (`claim_run(defer_sync=True)`)."""
    if segment.experiment not in synced:
        store.sync_later(layout.claims_dir(segment.experiment))
        synced.add(segment.experiment)
    return publish(store, segment)


def recover_remote_spools(client: RemoteClient, *, spool_base: str | None = None) -> RecoveryReport:
    """Send the leftover spool frames of every dead remote writer of `client`'s collector through it.

    The collector names each segment by its writer and first seq and creates it only if absent,
    as the live writer's sends did, so frames it already has are skipped, never duplicated.

    Args:
        client: the collector's client.
        spool_base: the spool root (default `$EVENTLOG_SPOOL_DIR`, else the user's cache dir).

    Returns:
        What was recovered and what was wrong (see `RecoveryReport`).

    Raises:
        RecoveryError: the collector refused a segment or is down; that spool file is kept for a later try.
    """
    # Not `eventlog recover`: the CLI reads stores, and this spool is keyed by the collector's URL.
    retry = f"once the collector is reachable, open the log again (eventlog.open({client.uri!r})) or call Log.recover()"
    return _recover_directory(spool_dir(client.uri, spool_base), client.publish, f"the collector {client.uri}", retry)


def _recover_directory(directory: str, publish_one: Callable[[Segment], bool], where: str, retry: str) -> RecoveryReport:
    report = RecoveryReport()
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(SUFFIX))
    except FileNotFoundError:
        return report
    for name in names:
        path = os.path.join(directory, name)
        fd = _try_lock(path)
        if fd is None:
            report.live += 1
            continue
        try:
            # The lock is on the inode we opened; if the path was meanwhile recovered and removed
            # by someone else, there is nothing left to do.
            try:
                if os.fstat(fd).st_ino != os.stat(path).st_ino:
                    continue
            except FileNotFoundError:
                continue
            _recover_file(publish_one, where, retry, path, fd, report)
        finally:
            os.close(fd)
    if report.events or report.problems:
        _log.warning(
            "eventlog recovery: %d event(s) in %d segment(s) recovered from %d spool file(s) of dead writers; %d problem(s)",
            report.events,
            report.segments,
            report.spools,
            len(report.problems),
        )
    return report


def recover(store: Store, *, spool_base: str | None = None) -> int:
    """Publish dead writers' leftover spool frames (see `recover_spools`); returns how many events.

    Raises:
        RecoveryError: the store refused a segment; that spool file is kept for a later try.
    """
    return recover_spools(store, spool_base=spool_base).events
