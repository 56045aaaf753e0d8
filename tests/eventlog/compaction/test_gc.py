"""Garbage collection deletes only what no reader can need, after a grace period by storage time."""

from __future__ import annotations

import logging
import os
import time
from types import SimpleNamespace

import pytest

import eventlog
from eventlog.compaction.compactor import compact
from eventlog.compaction.gc import MIN_GRACE, GcReport, UnsafeGraceError, collect_garbage
from eventlog.core import manifest
from eventlog.core.store import CLOCK_PROBES, Store, open_store
from eventlog.errors import EventLogError
from query.scan import scan_store
from testkit import seen, write_segments


def age(store: Store, prefix: str, seconds: float) -> None:
    """Make the files under `prefix` look `seconds` old to the storage (local disk)."""
    then = time.time() - seconds
    for info in store.find(prefix):
        os.utime(store.full_path(info.path), (then, then))


def test_a_grace_under_the_safe_minimum_is_refused_unless_forced(local_uri: str) -> None:
    store = open_store(local_uri)
    with pytest.raises(UnsafeGraceError, match="force=True") as caught:
        collect_garbage(store, grace=MIN_GRACE - 1)
    assert isinstance(caught.value, EventLogError) and isinstance(caught.value, ValueError)
    with pytest.raises(ValueError, match=">= 0"):
        collect_garbage(store, grace=-1, force=True)
    assert collect_garbage(store, grace=1, force=True).files == []


def test_dry_run_lists_and_deletes_nothing(local_uri: str) -> None:
    store = open_store(local_uri)
    write_segments(store, "a", segments=4, events=50)
    compact(store)
    report = collect_garbage(store, grace=0, force=True)
    assert isinstance(report, GcReport) and report.dry_run and len(report.segments) == 4
    assert "would delete 4 covered segment(s)" in str(report)
    assert len(store.find("seg")) == 4


def test_fresh_files_survive_the_grace_period_and_old_ones_go(local_uri: str) -> None:
    store = open_store(local_uri)
    logged = write_segments(store, "a", segments=4, events=50)
    compact(store)
    write_segments(store, "a", segments=4, events=50, start=4)
    compact(store)  # re-merges the first (small) compacted file: it becomes unused
    assert collect_garbage(store, dry_run=False).files == []  # everything is younger than an hour
    age(store, "", 7200)
    report = collect_garbage(store, dry_run=False)
    assert (len(report.segments), len(report.compacted), len(report.manifests)) == (8, 1, 1)
    assert store.find("seg") == [] and len(store.find("cmp")) == 1
    assert seen(store) == (2 * logged, 2 * logged)


def test_a_slow_reader_holding_an_old_snapshot_survives_gc_with_the_grace_period(local_uri: str) -> None:
    store = open_store(local_uri)
    logged = write_segments(store, "a", segments=6, events=100)
    slow_reader = scan_store(store)  # its file list is fixed now: the raw segments
    compact(store)
    age(store, "seg", 7200)  # the segments are old, but were covered only a moment ago
    report = collect_garbage(store, dry_run=False)
    assert report.segments == []
    frame = slow_reader.select("writer", "seq").collect()
    assert (frame.height, frame.unique().height) == (logged, logged)
    # Forcing a zero grace period is what breaks such a reader, which is why it needs force=True.
    collect_garbage(store, grace=0, force=True, dry_run=False)
    with pytest.raises(Exception, match=r"(?i)no such file|not found"):
        slow_reader.collect()
    assert seen(store) == (logged, logged)


def test_an_orphan_of_a_crashed_compaction_is_deleted_only_after_the_grace(local_uri: str) -> None:
    store = open_store(local_uri)
    logged = write_segments(store, "a", segments=3, events=50)

    def crash(step: str) -> None:
        if step == "before_commit":
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        compact(store, _fault=crash)
    (orphan,) = store.find("cmp")
    assert collect_garbage(store, dry_run=False).files == []  # it might be a compaction in progress
    age(store, "cmp", 7200)
    compact(store)
    report = collect_garbage(store, dry_run=False)
    assert report.compacted == [orphan.path]
    assert seen(store) == (logged, logged)


def test_log_gc_is_a_dry_run_by_default(local_uri: str) -> None:
    log = eventlog.open(local_uri)
    write_segments(log.store, "a", segments=3, events=10)
    log.compact()
    age(log.store, "", 7200)
    assert len(log.gc().segments) == 3 and len(log.store.find("seg")) == 3
    assert len(log.gc(dry_run=False).segments) == 3 and log.store.find("seg") == []
    # the segments were gone and their partition 7+ days old: gc committed a version without their tombstones
    assert manifest.latest_version(log.store) == 2 and manifest.load_latest(log.store).covered == {}
    log.close()


def test_the_storage_clock_is_read_from_a_probe_that_is_deleted_again(any_uri: str) -> None:
    store = open_store(any_uri)
    before = time.time()
    now = store.now()
    assert before - 5 <= now <= time.time() + 5  # moto and memory:// share this machine's clock
    assert store.find(CLOCK_PROBES) == []


def test_a_machine_clock_hours_ahead_of_the_storage_deletes_nothing_early(local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(local_uri)
    write_segments(store, "a", segments=4, events=50)
    compact(store)
    ahead = SimpleNamespace(time=lambda: time.time() + 7200, perf_counter=time.perf_counter)
    monkeypatch.setattr("eventlog.compaction.gc.time", ahead)
    report = collect_garbage(store, dry_run=False)  # by this machine's clock, everything is 2 h old
    assert report.files == [] and len(store.find("seg")) == 4
    assert report.clock_offset is not None and -7210 < report.clock_offset < -7190
    assert "s behind this machine's, ages are by the storage's" in str(report)


def test_gc_falls_back_to_this_machines_clock_when_the_probe_is_refused(
    local_uri: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(local_uri)
    write_segments(store, "a", segments=2, events=10)
    compact(store)
    age(store, "", 7200)

    def refused() -> float:
        raise PermissionError("read-only credentials")

    monkeypatch.setattr(store, "now", refused)
    with caplog.at_level(logging.WARNING, logger="eventlog.compaction.gc"):
        report = collect_garbage(store)
    assert len(report.segments) == 2 and report.clock_offset is None
    assert "read-only credentials" in caplog.text and "this machine's clock" in str(report)


def test_temporary_files_of_killed_writers_go_after_the_grace_period(local_uri: str) -> None:
    store = open_store(local_uri)
    write_segments(store, "a", segments=2, events=10)
    leftovers = [
        "seg/experiment=a/date=2026-11-23/w/00000000000000000099.parquet.0123abcd.tmp",
        "artifacts/a/1/u/model.pt.4567ef.tmp",
    ]
    for path in leftovers:
        os.makedirs(os.path.dirname(store.full_path(path)), exist_ok=True)
        with open(store.full_path(path), "wb") as f:
            f.write(b"half written")
    assert collect_garbage(store, dry_run=False).temporary == []  # a live writer may still rename it
    then = time.time() - 7200
    for path in leftovers:
        os.utime(store.full_path(path), (then, then))
    report = collect_garbage(store, dry_run=False)
    assert sorted(report.temporary) == sorted(leftovers) and "2 leftover temporary file(s)" in str(report)
    assert not any(os.path.exists(store.full_path(p)) for p in leftovers)
    assert len(store.find("seg")) == 2  # the segments themselves are not covered: kept
