"""Clearing an experiment removes it from the store, listings included."""

from __future__ import annotations

from eventlog.compaction.clear import clear_experiment
from eventlog.compaction.compactor import compact
from eventlog.core.catalog import list_experiments
from eventlog.core.store import open_store
from testkit import seen, write_segments


def test_a_cleared_experiment_is_no_longer_listed(any_uri: str) -> None:
    # Regression: on local disk and memory:// its emptied directories kept it in list_experiments.
    store = open_store(any_uri)
    logged = write_segments(store, "a", segments=3, events=10) + write_segments(store, "b", segments=3, events=10)
    compact(store, "a")
    assert list_experiments(store) == ["a", "b"]
    assert clear_experiment(store, "a") == 4  # 3 segments and their compacted file
    assert list_experiments(store) == ["b"]
    assert seen(store) == (logged // 2, logged // 2)


def test_removing_empty_directories_keeps_a_file_that_landed_meanwhile(any_uri: str) -> None:
    store = open_store(any_uri)
    store.create("seg/experiment=a/date=2026-01-01/w1/00000000000000000001.parquet", b"x")
    store.delete(["seg/experiment=a/date=2026-01-01/w1/00000000000000000001.parquet"])
    store.create("seg/experiment=a/date=2026-01-02/w2/00000000000000000001.parquet", b"late")
    store.remove_empty_dirs("seg/experiment=a")
    assert [f.path for f in store.find("seg")] == ["seg/experiment=a/date=2026-01-02/w2/00000000000000000001.parquet"]
    assert list_experiments(store) == ["a"]
    store.delete(["seg/experiment=a/date=2026-01-02/w2/00000000000000000001.parquet"])
    store.remove_empty_dirs("seg/experiment=a")
    assert list_experiments(store) == []
