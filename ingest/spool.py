"""The spool: a local, append-only file of encoded segments that are not yet in the store.

The flusher appends every drained batch here (one `write`, fsync with `durability="sync"`)
before it publishes the batch, and truncates the file once everything in it is published. If the
process dies in between (kill -9, OOM, pre-emption), `ingest.recovery` publishes the leftover
frames later under the very same segment names, with create-if-absent, so nothing is lost and
nothing is duplicated. During a store outage the spool, not memory, absorbs the backlog.

Each batch is one frame (`ingest.frames`: header, Parquet payload, CRC), so a torn or corrupt
frame is detected, reported and skipped.

Where: `$EVENTLOG_SPOOL_DIR`, else `$XDG_CACHE_HOME/eventlog/spool` (`~/.cache/...`), in a
directory per store (a hash of its URL), one file per writer: `<writer>.spool`. The live writer
holds an exclusive `flock` on its file, which is how recovery tells a dead writer's spool from a
live one (the kernel drops the lock when the process dies, however it dies).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from collections.abc import Callable

from eventlog import env
from eventlog.core.backends import fsync_dir
from eventlog.core.segment import Segment
from eventlog.core.store import Store
from ingest.frames import FrameHeader, decode_frames, encode_frame, iter_segments

__all__ = ["SUFFIX", "Spool", "SpoolOutbox", "spool_dir"]

_log = logging.getLogger("eventlog.spool")
SUFFIX = ".spool"


def spool_dir(store: Store | str, base: str | None = None) -> str:
    """The spool directory of `store`: `<base>/<hash of the store's URL>` (not created here).

    Args:
        store: the store whose segments are spooled, or the URL of the collector a remote log
            sends them to (its spools are recovered through that collector).
        base: the spool root; default `$EVENTLOG_SPOOL_DIR`, else `$XDG_CACHE_HOME/eventlog/spool`.
    """
    if base is None:
        base = os.environ.get(env.EVENTLOG_SPOOL_DIR)
    if not base:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(cache, "eventlog", "spool")
    if isinstance(store, str):
        target = f"collector {store.rstrip('/')}"
    else:
        # Same bucket name on two S3 endpoints = two stores: the endpoint is part of the key.
        endpoint = (getattr(store.fs, "client_kwargs", None) or {}).get("endpoint_url") or ""
        target = f"{store.protocol}://{store.root} {endpoint}"
    return os.path.join(base, hashlib.sha256(target.encode()).hexdigest()[:16])


class Spool:
    """This writer's spool file, created on first use and locked (`flock`) while the writer lives.

    Args:
        directory: the store's spool directory (see `spool_dir`).
        writer: the writer id; the file is `<directory>/<writer>.spool`.
        store_url: written once to `<directory>/STORE` so that people know what the directory is.
        fsync: fsync every append (`durability="sync"`).
    """

    def __init__(self, directory: str, writer: str, *, store_url: str = "", fsync: bool = False) -> None:
        self.directory = directory
        self.path = os.path.join(directory, writer + SUFFIX)
        self.fsync = fsync
        self._store_url = store_url
        self._fd: int | None = None
        self._pid = os.getpid()

    def _open(self) -> int:
        if self._fd is not None:
            return self._fd
        os.makedirs(self.directory, exist_ok=True)
        marker = os.path.join(self.directory, "STORE")
        if self._store_url and not os.path.exists(marker):
            with open(marker, "w", encoding="utf-8") as f:
                f.write(self._store_url + "\n")
        while True:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            # A recovery may have taken this path for a dead writer's file and unlinked it between our
            # open and our lock; only a lock on the inode that the path names now counts.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        if self.fsync:
            fsync_dir(self.directory)
        self._fd = fd
        self._pid = os.getpid()
        return fd

    def append(self, segments: list[Segment]) -> None:
        """Append one frame per segment with a single `write` (and fsync if asked).

        Raises:
            OSError: the spool could not be written (disk full, permissions); nothing is lost, the
                caller keeps the segments.
        """
        if not segments:
            return
        fd = self._open()
        data = memoryview(b"".join(encode_frame(s) for s in segments))
        start = os.fstat(fd).st_size
        try:
            while data:
                written = os.write(fd, data)
                data = data[written:]
            if self.fsync:
                os.fsync(fd)
        except OSError:
            # Leave no partial batch behind: the caller retries the whole batch, and frames written
            # twice would shift the frame count that `SpoolOutbox` keeps.
            try:
                os.ftruncate(fd, start)
            except OSError:
                pass
            raise

    def read(self) -> list[tuple[FrameHeader, bytes]]:
        """This writer's own frames (written by this process, so all valid), in order."""
        if self._fd is None:
            return []
        with open(self.path, "rb") as f:
            return decode_frames(f.read()).frames

    def size(self) -> int:
        """Bytes currently in the spool file."""
        return 0 if self._fd is None else os.fstat(self._fd).st_size

    def truncate(self) -> None:
        """Empty the file: everything in it is in the store."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            if self.fsync:
                os.fsync(self._fd)

    def close(self, *, remove: bool) -> None:
        """Release the lock; with `remove`, delete the (empty) file first.

        In a forked child (which inherited the fd) the file is never removed: it is the parent's.
        """
        if self._fd is None:
            return
        if remove and os.getpid() == self._pid:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
        os.close(self._fd)
        self._fd = None


class SpoolOutbox:
    """The flusher's outbox with a spool: drained segments go to disk first, then to the sink.

    `put` appends to the spool (if that fails, the segments wait in memory, are published from
    there, and the flusher drains no more until they are). `send` publishes every spooled frame not
    yet known to be in the store, in order, and empties the spool once all are. After a failed
    send the frames are read back from the spool, so a long store outage costs disk, not memory.

    Args:
        spool: this writer's spool file.
        sink: publishes segments (idempotently); raises on failure.
    """

    def __init__(self, spool: Spool, sink: Callable[[list[Segment]], None]) -> None:
        self.spool = spool
        self._sink = sink
        self._unspooled: list[Segment] = []
        self._fresh: list[Segment] = []  # spooled in this cycle and still in memory
        self._spooled_frames = 0  # frames in the spool file
        self._sent_frames = 0  # of those, already published
        self._events_spooled = 0  # events in the spool file not yet published
        self.spool_error: OSError | None = None  # why the last append failed, if it did

    @property
    def accepts_more(self) -> bool:
        """False while segments wait in memory because the spool could not be written."""
        return not self._unspooled

    def pending(self) -> int:
        """Events accepted but not yet published."""
        return self._events_spooled + sum(s.count for s in self._unspooled)

    def put(self, segments: list[Segment]) -> None:
        """Spool `segments` (after any that an earlier failed append left in memory).

        If the spool cannot be written (disk full, no cache directory), the segments stay in
        memory and are published from there: durability degrades to `memory` with a warning,
        logging goes on, and the flusher drains no more until they are published.
        """
        self._unspooled.extend(segments)
        if not self._unspooled:
            return
        batch = self._unspooled
        try:
            self.spool.append(batch)
        except OSError as exc:
            if self.spool_error is None:
                _log.warning(
                    "eventlog: cannot write the spool %s (%s); events wait in memory until published", self.spool.path, exc
                )
            self.spool_error = exc
            return
        self.spool_error = None
        self._unspooled = []
        self._spooled_frames += len(batch)
        self._events_spooled += sum(s.count for s in batch)
        if self._sent_frames + len(self._fresh) == self._spooled_frames - len(batch):
            self._fresh.extend(batch)
        else:
            self._fresh = []

    def send(self) -> tuple[int, int]:
        """Publish the spooled segments not yet in the store (then any kept in memory), in order.

        The spool is emptied once everything in it is in the store.

        Returns:
            (segments, events) published by this call.

        Raises:
            Exception: whatever the sink raised; the frames stay spooled and are sent next time.
        """
        segments = events = 0
        unsent = self._spooled_frames - self._sent_frames
        if unsent:
            todo = (
                self._fresh
                if len(self._fresh) == unsent
                else list(iter_segments(self.spool.read()[self._sent_frames :]))
            )
            self._fresh = []
            for segment in todo:
                self._sink([segment])
                self._sent_frames += 1
                self._events_spooled -= segment.count
                segments += 1
                events += segment.count
            self.spool.truncate()
            self._spooled_frames = self._sent_frames = 0
            self._events_spooled = 0
        if self._unspooled:
            self._sink(self._unspooled)
            segments += len(self._unspooled)
            events += sum(s.count for s in self._unspooled)
            self._unspooled = []
        return segments, events

    def close(self, *, clean: bool) -> None:
        """Release the spool; delete it if `clean` and nothing is left to publish."""
        self.spool.close(remove=clean and self.pending() == 0)
