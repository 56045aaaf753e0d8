"""When a tombstone may expire, and the check that makes it safe (DESIGN §3, issue 17).

A manifest keeps every covered raw segment as a tombstone so that a segment gc deleted, then
published again under the same name (a spool replayed after its writer died between publishing
and emptying the spool, or a retry whose first try landed), is skipped by readers. Kept forever,
tombstones make every manifest grow with the archive's whole history.

The bound: **a tombstone expires once its partition's date is `TOMBSTONE_DAYS` (7) days old and
its segment is gone** (gc deleted it; gc then commits a version without it). In exchange, every
publish of a segment into a partition older than `CHECKED_DAYS` (6: one day of margin for clocks)
first checks the visible compacted files of that partition: if they already hold every event of
the segment (same writer and seq), the segment is not published again. So a spool may be
replayed however late, and nothing is duplicated or lost: within 6 days the tombstone catches a
repeat, after that the check does. The check reads the latest manifest's part for the experiment
and the `writer`/`seq` columns of that partition's compacted files; it runs only for segments of
old partitions (late replays, importers of old data, back-dated events), never on the hot path.
"""

from __future__ import annotations

import datetime as _dt

from eventlog.core import layout
from eventlog.core.manifest import Manifest, load_latest
from eventlog.core.store import Store

__all__ = ["CHECKED_DAYS", "TOMBSTONE_DAYS", "already_compacted", "expired_tombstones", "is_old"]

#: Days after its partition's date at which a tombstone of a deleted segment may be dropped.
TOMBSTONE_DAYS = 7
#: Days after its partition's date from which a publish checks the compacted files first.
CHECKED_DAYS = TOMBSTONE_DAYS - 1


def is_old(date: str, *, days: int, now: float) -> bool:
    """Whether partition date `date` (`YYYY-MM-DD`) is more than `days` days before `now` (epoch seconds)."""
    today = _dt.datetime.fromtimestamp(now, _dt.UTC).date()
    return _dt.date.fromisoformat(date) < today - _dt.timedelta(days=days)


def already_compacted(store: Store, experiment: str, date: str, writer: str, data: bytes) -> bool:
    """Whether the visible compacted files of the segment's partition hold every event of it.

    Args:
        store: the store.
        experiment, date, writer: the segment's partition and writer.
        data: the segment's Parquet bytes (its `seq` column is read).
    """
    import io

    import pyarrow.parquet as pq

    seqs = set(pq.read_table(io.BytesIO(data), columns=["seq"])["seq"].to_pylist())
    partition = layout.partition_dir(layout.SEGMENTS, experiment, date).split("/", 1)[1]
    current = load_latest(store)  # whole; a per-experiment read is an optimisation for later
    for compacted in current.files:
        if compacted.partition != partition or not seqs:
            continue
        seqs -= _seqs_of(store, compacted.path, writer)
    return not seqs


def _seqs_of(store: Store, path: str, writer: str) -> set[int]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    with store.fs.open(store.full_path(path), "rb") as handle:
        table = pq.read_table(handle, columns=["writer", "seq"])
    mine = table.filter(pc.equal(table["writer"].cast("string"), writer))
    return set(mine["seq"].to_pylist())


def expired_tombstones(current: Manifest, listed: set[tuple[str, str, int]], now: float) -> set[tuple[str, str, int]]:
    """The tombstones of `current` that may be dropped: old partitions, segments no longer listed.

    Args:
        current: a complete manifest.
        listed: the ids (`segment_id`) of every raw segment present in the store now.
        now: the time to judge ages against (epoch seconds, the storage's clock).
    """
    old = [p for p in current.covered if is_old(_date(p), days=TOMBSTONE_DAYS, now=now)]
    return {sid for sid in current.covered_ids(old) if sid not in listed}


def _date(partition: str) -> str:
    return layout.date_of(partition) or "9999-12-31"
