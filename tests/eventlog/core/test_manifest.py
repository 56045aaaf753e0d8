"""Manifest versions: encoding, covered segments, create-if-absent commits, the latest version."""

from __future__ import annotations

import pytest

from eventlog.core import manifest
from eventlog.core.manifest import CompactedFile, Manifest
from eventlog.core.store import open_store
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
    assert manifest.msgspec.json.decode(second.encode(), type=Manifest) == second


def test_paths_and_ids() -> None:
    assert manifest.manifest_path(7) == "_manifest/00000000000000000007.json"
    assert manifest.version_of(manifest.manifest_path(7)) == 7 and manifest.version_of("_manifest/x.json") is None
    assert manifest.segment_id(SEG.format(42)) == ("experiment=a/date=2026-11-23", "w1", 42)
    assert manifest.segment_id(CMP) is None
    assert CompactedFile(CMP, 1, 1).partition == "experiment=a/date=2026-11-23"


def test_commits_are_create_if_absent_and_the_latest_wins(any_uri: str) -> None:
    store = open_store(any_uri)
    assert manifest.latest_version(store) == 0 and manifest.load_latest(store) == Manifest()
    one = Manifest().evolve()
    store.create(manifest.manifest_path(1), one.encode())
    with pytest.raises(AlreadyExistsError):
        store.create(manifest.manifest_path(1), Manifest().evolve().encode())
    two = one.evolve()
    store.create(manifest.manifest_path(2), two.encode())
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
