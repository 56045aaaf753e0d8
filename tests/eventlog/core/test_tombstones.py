"""Tombstones expire once safe (DESIGN §3): old partitions, segments gone; a late replay is then checked."""

from __future__ import annotations

import datetime as dt
import time

from eventlog.compaction.compactor import compact
from eventlog.compaction.gc import collect_garbage
from eventlog.core import manifest, tombstones
from eventlog.core.segment import publish
from eventlog.core.store import open_store
from testkit import make_segment, seen, write_segments

PARTITION = "experiment=a/date={}"


def test_only_tombstones_of_old_partitions_whose_segments_are_gone_expire() -> None:
    now = time.time()
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    old, recent = (today - dt.timedelta(days=8)).isoformat(), (today - dt.timedelta(days=2)).isoformat()
    ids = [(PARTITION.format(old), "w", 0), (PARTITION.format(old), "w", 10), (PARTITION.format(recent), "w", 0)]
    current = manifest.Manifest().evolve(add_covered=ids)
    listed = {ids[1]}  # still on disk: gc has not deleted it yet
    assert tombstones.expired_tombstones(current, listed, now) == {ids[0]}
    assert tombstones.is_old(old, days=tombstones.TOMBSTONE_DAYS, now=now)
    assert not tombstones.is_old(recent, days=tombstones.CHECKED_DAYS, now=now)


def test_gc_drops_expired_tombstones_and_a_late_replay_is_not_published_again(local_uri: str) -> None:
    """The data of testkit is dated 2026-11-23, older than TOMBSTONE_DAYS."""
    store = open_store(local_uri)
    logged = write_segments(store, "a", segments=6, events=40, writers=2)
    compact(store)
    assert len(manifest.load_latest(store).covered_ids()) == 6
    report = collect_garbage(store, grace=0, force=True, dry_run=False)
    assert len(report.segments) == 6 and report.tombstones_expired == 6
    assert manifest.load_latest(store).covered == {}  # the manifest no longer grows with history
    # A spool replays a segment whose writer died after publishing it (same bytes, same name):
    assert publish(store, make_segment("a", "a-w0", 0, 40)) is False
    assert store.find("seg") == [] and seen(store) == (logged, logged)


def test_an_old_segment_never_compacted_is_published(local_uri: str) -> None:
    store = open_store(local_uri)
    write_segments(store, "a", segments=4, events=40, writers=2)
    compact(store)
    late = make_segment("a", "a-late", 0, 40)  # a writer whose spool waited days: new events
    assert publish(store, late) is True
    assert seen(store) == (200, 200)


def test_a_dry_run_counts_what_would_expire_and_changes_nothing(local_uri: str) -> None:
    store = open_store(local_uri)
    write_segments(store, "a", segments=4, events=40, writers=2)
    compact(store)
    version = manifest.latest_version(store)
    report = collect_garbage(store, grace=0, force=True)
    assert report.tombstones_expired == 4 and manifest.latest_version(store) == version
    assert len(store.find("seg")) == 4
