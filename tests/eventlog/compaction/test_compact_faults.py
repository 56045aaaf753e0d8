"""A compactor killed at any protocol step leaves readers seeing every event exactly once.

Two ways to kill it: a `_fault` hook that raises at a step (in-process), and SIGKILL of a
subprocess at a step. After each kill, a later compaction finishes the job.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from eventlog.compaction.compactor import compact
from eventlog.compaction.gc import collect_garbage
from eventlog.core import manifest
from eventlog.core.store import Store, open_store
from query.snapshot import take_snapshot
from testkit import seen, write_segments

STEPS = ["listed", "file_written", "before_commit", "commit_written", "committed"]


class Crash(Exception):
    """Stands for the compactor dying at a protocol step."""


def crash_at(step: str):  # type: ignore[no-untyped-def]
    def hook(name: str) -> None:
        if name == step:
            raise Crash(step)

    return hook


def assert_finished(store: Store, logged: int) -> None:
    """A later compaction leaves only compacted files visible, each event once."""
    compact(store)
    assert {p.split("/")[0] for p in take_snapshot(store).paths} == {"cmp"}
    assert seen(store) == (logged, logged)


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_at_any_step_loses_and_duplicates_nothing(local_uri: str, step: str) -> None:
    store = open_store(local_uri)
    logged = write_segments(store, "a", segments=8, events=200)
    if step == "commit_written":
        # The manifest landed but the call raised: an unknown outcome, resolved by reading it back.
        report = compact(store, _fault=crash_at(step))
        assert report.version == 1
    else:
        with pytest.raises(Crash):
            compact(store, _fault=crash_at(step))
    assert seen(store) == (logged, logged)
    logged += write_segments(store, "a", segments=4, events=200, start=8)  # writers carry on meanwhile
    assert seen(store) == (logged, logged)
    assert_finished(store, logged)


@pytest.mark.s3
@pytest.mark.parametrize("step", ["file_written", "before_commit", "committed"])
def test_a_crash_on_s3_loses_and_duplicates_nothing(s3_uri: str, step: str) -> None:
    store = open_store(s3_uri)
    logged = write_segments(store, "a", segments=6, events=100)
    with pytest.raises(Crash):
        compact(store, _fault=crash_at(step))
    assert seen(store) == (logged, logged)
    assert_finished(store, logged)


def test_a_commit_whose_outcome_is_unknown_is_resolved_by_reading_it_back(local_uri: str) -> None:
    store = open_store(local_uri)
    logged = write_segments(store, "a", segments=5, events=100)
    calls: list[str] = []

    def flaky(step: str) -> None:
        calls.append(step)
        if step == "commit_written":
            raise OSError("connection reset after the request was sent")

    report = compact(store, _fault=flaky)
    assert report.version == 1 and report.conflicts == 0
    assert [f.path for f in manifest.list_versions(store)] == [manifest.manifest_path(1)]
    assert seen(store) == (logged, logged)


def test_a_commit_whose_write_did_not_land_is_written_again(local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(local_uri)
    logged = write_segments(store, "a", segments=5, events=100)
    create = store.create
    failed: list[str] = []

    def lost_on_the_way(path: str, data: bytes) -> None:
        if path == manifest.manifest_path(1) and not failed:
            failed.append(path)
            raise OSError("connection reset before the request was sent")
        create(path, data)

    monkeypatch.setattr(store, "create", lost_on_the_way)
    report = compact(store)
    assert failed == [manifest.manifest_path(1)]
    assert report.version == 1 and report.conflicts == 0
    assert seen(store) == (logged, logged)


def test_a_manifest_part_whose_write_did_not_land_is_written_again(local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(local_uri)
    logged = write_segments(store, "a", segments=5, events=100)
    create = store.create
    failed: list[str] = []

    def lost_on_the_way(path: str, data: bytes) -> None:
        if path.startswith("_manifest/parts/") and not failed:
            failed.append(path)
            raise OSError("connection reset before the request was sent")
        create(path, data)

    monkeypatch.setattr(store, "create", lost_on_the_way)
    report = compact(store)
    assert len(failed) == 1 and manifest.part_paths(store, 1) == failed
    assert report.version == 1 and seen(store) == (logged, logged)


def test_a_crash_during_gc_leaves_readers_whole_and_a_later_gc_finishes(local_uri: str) -> None:
    store = open_store(local_uri)
    logged = write_segments(store, "a", segments=6, events=100)
    compact(store)
    deleted: list[str] = []

    def die_after_two(step: str) -> None:
        deleted.append(step)
        if len(deleted) > 2:
            raise Crash("gc")

    with pytest.raises(Crash):
        collect_garbage(store, grace=0, force=True, dry_run=False, _fault=die_after_two)
    assert seen(store) == (logged, logged)
    report = collect_garbage(store, grace=0, force=True, dry_run=False)
    assert len(report.segments) == 4
    assert store.find("seg") == [] and seen(store) == (logged, logged)


_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from eventlog.compaction.compactor import compact
    from eventlog.core.store import open_store

    step = sys.argv[2]

    def die(name):
        if name == step:
            os.kill(os.getpid(), signal.SIGKILL)

    compact(open_store(sys.argv[1]), _fault=die)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("step", ["file_written", "before_commit", "committed"])
def test_sigkill_of_a_compactor_process_at_a_step(local_uri: str, step: str) -> None:
    store = open_store(local_uri)
    logged = write_segments(store, "a", segments=8, events=200)
    child = subprocess.run([sys.executable, "-c", _CHILD, local_uri, step], capture_output=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    assert manifest.latest_version(store) == (1 if step == "committed" else 0)
    assert len(store.find("cmp")) == 1  # the merged file was written either way
    assert seen(store) == (logged, logged)
    assert_finished(store, logged)
    # The orphan of the killed compaction (if it never committed) is gc'd; nothing visible changes.
    collect_garbage(store, grace=0, force=True, dry_run=False)
    assert len(store.find("cmp")) == 1 and seen(store) == (logged, logged)
    collect_garbage(store, grace=0, force=True, dry_run=False)  # the version its tombstone expiry superseded
    latest = manifest.latest_version(store)
    assert [f.path for f in manifest.list_versions(store)] == [manifest.manifest_path(latest)]
    assert sorted(f.path for f in manifest.list_parts(store)) == manifest.part_paths(store, latest)  # orphan parts gc'd


def test_a_merge_slower_than_the_grace_checks_gc_left_its_files(local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from eventlog.compaction import compactor
    from eventlog.compaction.compactor import CompactionError

    monkeypatch.setattr(compactor, "VERIFY_AFTER", 0.0)  # every merge counts as slow
    store = open_store(local_uri)
    logged = write_segments(store, "a", segments=4, events=50)

    def gc_takes_the_file(step: str) -> None:
        if step == "file_written":
            store.delete([f.path for f in store.find("cmp")])  # what a gc with too short a grace would do

    with pytest.raises(CompactionError, match="longer than gc's grace period"):
        compact(store, _fault=gc_takes_the_file)
    assert manifest.latest_version(store) == 0 and seen(store) == (logged, logged)
    assert_finished(store, logged)
