"""Manifest versions: encoding, covered segments, create-if-absent commits, the latest version."""

from __future__ import annotations

import pytest

from eventlog.core import manifest
from eventlog.core.manifest import CompactedFile, Manifest
from eventlog.core.store import Store, open_store
from eventlog.errors import AlreadyExistsError

SEG = "seg/experiment=a/date=2026-11-23/w1/{:020d}.parquet"
CMP = "cmp/experiment=a/date=2026-11-23/00000000000000000001-x.parquet"


def test_evolve_adds_files_and_covers_segments_compactly() -> None:
    first = Manifest().evolve(
        add_files=[CompactedFile(CMP, 10, 100)],
        add_covered=[manifest.segment_id(SEG.format(s)) for s in (0, 5, 1000)],  # type: ignore[misc]
    )
    assert first.version == 1 and first.commit
    assert first.covered == {"experiment=a/date=2026-11-23": {"w1": [0, 5, 995]}}  # delta-encoded
    covered = manifest.covered_set(first)
    assert SEG.format(5) in covered and SEG.format(6) not in covered and "seg/bogus" not in covered
    second = first.evolve(remove_files=[CMP])
    assert second.version == 2 and second.files == [] and second.covered == first.covered
    assert second.commit != first.commit


def test_paths_and_ids() -> None:
    assert manifest.manifest_path(7) == "_manifest/00000000000000000007.json"
    assert manifest.version_of(manifest.manifest_path(7)) == 7 and manifest.version_of("_manifest/x.json") is None
    assert manifest.segment_id(SEG.format(42)) == ("experiment=a/date=2026-11-23", "w1", 42)
    assert manifest.segment_id(CMP) is None
    assert CompactedFile(CMP, 1, 1).partition == "experiment=a/date=2026-11-23"


def test_a_compacted_files_run_range_is_kept_and_files_without_one_read_as_before(memory_uri: str) -> None:
    store = open_store(memory_uri)
    ranged, unranged = CompactedFile(CMP, 10, 100, runs=(3, 9)), CompactedFile(CMP.replace("-x", "-y"), 5, 50)
    version = Manifest().evolve(add_files=[ranged, unranged])
    root, parts = version.encode()
    assert b'"runs"' not in b"".join([root, *parts.values()]).replace(b'"runs":[3,9]', b"")  # no null for the unranged file
    for path, data in parts.items():
        store.create(path, data)
    store.create(manifest.manifest_path(1), root)
    assert sorted(manifest.load_latest(store).files, key=lambda f: f.path) == [ranged, unranged]


def test_commits_are_create_if_absent_and_the_latest_wins(any_uri: str) -> None:
    store = open_store(any_uri)
    assert manifest.latest_version(store) == 0 and manifest.load_latest(store) == Manifest()
    one = Manifest().evolve()
    store.create(manifest.manifest_path(1), one.encode()[0])
    with pytest.raises(AlreadyExistsError):
        store.create(manifest.manifest_path(1), Manifest().evolve().encode()[0])
    two = one.evolve()
    store.create(manifest.manifest_path(2), two.encode()[0])
    assert manifest.latest_version(store) == 2
    assert manifest.load_latest(store).commit == two.commit
    with pytest.raises(FileNotFoundError):
        manifest.read_manifest(store, 3)


def test_evolve_re_encodes_only_the_partitions_gaining_segments() -> None:
    other = "seg/experiment=b/date=2026-11-24/w2/{:020d}.parquet"
    first = Manifest().evolve(add_covered=[manifest.segment_id(p.format(s)) for p in (SEG, other) for s in (3, 9)])  # type: ignore[misc]
    second = first.evolve(add_covered=[manifest.segment_id(SEG.format(s)) for s in (1, 7)])  # type: ignore[misc]
    assert second.covered["experiment=a/date=2026-11-23"] == {"w1": [1, 2, 4, 2]}
    assert second.covered["experiment=b/date=2026-11-24"] is first.covered["experiment=b/date=2026-11-24"]
    assert list(second.covered) == sorted(second.covered)
    assert second.covered_ids(["experiment=b/date=2026-11-24", "experiment=c/date=2026-11-24"]) == {
        ("experiment=b/date=2026-11-24", "w2", 3),
        ("experiment=b/date=2026-11-24", "w2", 9),
    }
    assert second.covered_ids() == second.covered_ids(second.covered)


def test_a_damaged_manifest_is_named_in_the_error(local_uri: str) -> None:
    store = open_store(local_uri)
    store.create(manifest.manifest_path(1), b"[1, 2]")
    with pytest.raises(manifest.msgspec.DecodeError, match=r"_manifest/00000000000000000001.json .* not a valid manifest"):
        manifest.load_latest(store)


def _commit(store: Store, candidate: Manifest) -> dict[str, bytes]:
    """Write a version as the compactor does: its new parts, then its root. Returns the new parts."""
    root, parts = candidate.encode()
    for path, body in parts.items():
        store.create(path, body)
    store.create(manifest.manifest_path(candidate.version), root)
    return parts


def _three_experiments() -> Manifest:
    cmp = "cmp/experiment={e}/date=2026-11-23/00000000000000000001-x.parquet"
    seg = "seg/experiment={e}/date=2026-11-23/w1/{s:020d}.parquet"
    return Manifest().evolve(
        add_files=[CompactedFile(cmp.format(e=e), 10, 100) for e in "abc"],
        add_covered=[manifest.segment_id(seg.format(e=e, s=s)) for e in "abc" for s in range(50)],  # type: ignore[misc]
    )


def test_a_version_round_trips_through_its_root_and_parts(memory_uri: str) -> None:
    store = open_store(memory_uri)
    first = _three_experiments()
    parts = _commit(store, first)
    assert len(parts) == 3 and all(path.startswith("_manifest/parts/experiment=") for path in parts)
    read = manifest.read_manifest(store, 1)
    assert (read.files, read.covered, read.commit, read.complete) == (first.files, first.covered, first.commit, True)
    assert manifest.part_paths(store, 1) == sorted(parts)
    assert manifest.list_versions(store)[-1].path == manifest.manifest_path(1)  # parts are not versions


def test_a_read_loads_only_the_parts_of_its_experiments(memory_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(memory_uri)
    _commit(store, _three_experiments())
    read: list[str] = []
    original = store.read
    monkeypatch.setattr(store, "read", lambda path: read.append(path) or original(path))
    manifest._roots.clear()
    manifest._parts.clear()
    only_b = manifest.read_manifest(store, 1, lambda experiment: experiment == "b")
    assert read[0] == manifest.manifest_path(1) and len(read) == 2 and "experiment=b/" in read[1]
    assert [f.path.split("/")[1] for f in only_b.files] == ["experiment=b"]
    assert list(only_b.covered) == ["experiment=b/date=2026-11-23"] and not only_b.complete
    with pytest.raises(ValueError, match="read it whole"):
        only_b.evolve()


def test_a_commit_writes_parts_only_for_the_experiments_it_changed(memory_uri: str) -> None:
    store = open_store(memory_uri)
    first_parts = _commit(store, _three_experiments())
    base = manifest.read_manifest(store, 1)
    seg = "seg/experiment=a/date=2026-11-23/w9/{:020d}.parquet"
    second = base.evolve(add_covered=[manifest.segment_id(seg.format(s)) for s in (0, 1)])  # type: ignore[misc]
    new_parts = _commit(store, second)
    assert len(new_parts) == 1 and "experiment=a/" in next(iter(new_parts))
    kept = set(manifest.part_paths(store, 2)) & set(first_parts)
    assert len(kept) == 2 and all("experiment=a/" not in path for path in kept)
    assert manifest.read_manifest(store, 2).covered_ids() == second.covered_ids()
    cleared = manifest.read_manifest(store, 2).without_experiment("c")
    assert len(_commit(store, cleared)) == 0 and len(manifest.part_paths(store, 3)) == 2


def test_a_version_written_before_sharding_reads_whole_and_the_next_commit_shards(memory_uri: str) -> None:
    store = open_store(memory_uri)
    first = _three_experiments()
    legacy = manifest.msgspec.json.encode(
        {"version": 1, "commit": first.commit, "created": first.created, "files": first.files, "covered": first.covered}
    )
    store.create(manifest.manifest_path(1), legacy)
    read = manifest.read_manifest(store, 1, lambda experiment: experiment == "a")
    assert read.complete and read.files == first.files and read.covered == first.covered  # one whole
    assert manifest.part_paths(store, 1) == []
    assert len(_commit(store, read.evolve())) == 3
    again = manifest.read_manifest(store, 2)
    assert (again.files, again.covered) == (first.files, first.covered)
