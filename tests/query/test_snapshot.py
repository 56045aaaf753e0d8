"""Snapshots honour the manifest: compacted files plus uncovered raw segments, never orphans."""

from __future__ import annotations

from typing import Any

from eventlog.compaction.compactor import compact
from eventlog.core import manifest
from eventlog.core.store import FileInfo, Store, open_store
from query import files
from query.snapshot import take_snapshot
from testkit import write_segments


def test_a_snapshot_takes_compacted_files_and_uncovered_segments(local_uri: str) -> None:
    store = open_store(local_uri)
    write_segments(store, "a", segments=4, events=10)
    assert take_snapshot(store).manifest_version is None
    compact(store)
    write_segments(store, "a", segments=2, events=10, start=4)
    snapshot = take_snapshot(store, "a")
    assert snapshot.manifest_version == 1
    assert sorted(p.split("/")[0] for p in snapshot.paths) == ["cmp", "seg", "seg"]
    assert files(store, "a") == [store.url(p) for p in snapshot.paths]


def test_orphans_in_cmp_are_never_read(local_uri: str) -> None:
    store = open_store(local_uri)
    write_segments(store, "a", segments=3, events=10)
    compact(store)
    store.create("cmp/experiment=a/date=2026-11-23/00000000000000000009-orphan.parquet", b"not parquet")
    assert all("orphan" not in p for p in take_snapshot(store).paths)


def test_compacted_files_follow_the_experiment_filter(local_uri: str) -> None:
    store = open_store(local_uri)
    write_segments(store, "a", segments=2, events=10)
    write_segments(store, "b", segments=2, events=10)
    compact(store)
    assert [p.split("/")[1] for p in take_snapshot(store, "a").paths] == ["experiment=a"]
    assert [p.split("/")[1] for p in take_snapshot(store, "[b]").paths] == ["experiment=b"]
    assert len(take_snapshot(store, "*").paths) == 2


class MovingStore(Store):
    """A real local store in which a compaction commits while the reader lists `seg/` (once)."""

    moved = False

    def find(self, prefix: str) -> list[FileInfo]:
        found = super().find(prefix)
        if prefix.startswith("seg") and not self.moved:
            self.moved = True
            compact(self)
        return found


def test_a_snapshot_lists_again_when_the_manifest_moved_during_listing(local_uri: str) -> None:
    plain = open_store(local_uri)
    write_segments(plain, "a", segments=3, events=10)
    store: Any = MovingStore(plain.uri, plain.fs, plain.root)
    snapshot = take_snapshot(store)
    assert store.moved and snapshot.manifest_version == 1
    assert [p.split("/")[0] for p in snapshot.paths] == ["cmp"]
    assert manifest.latest_version(store) == 1
