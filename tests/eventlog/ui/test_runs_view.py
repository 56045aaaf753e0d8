"""The dashboard's runs table of a store too big to keep the rows of: one listing per fold."""

from __future__ import annotations

from pathlib import Path

import pytest

import query
from eventlog.core.segment import publish
from eventlog.core.store import open_store
from eventlog.errors import DamagedFileError
from eventlog.ui import runs_view
from eventlog.ui.runs_view import RunsCache
from testkit import make_segment, record_calls


@pytest.fixture
def big_store(local_uri: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A store of 6 one-segment runs, with the rows cache declining any store (as past 8 MB of rows)."""
    store = open_store(local_uri)
    for run in range(1, 7):
        publish(store, make_segment("exp", f"w{run}", 0, 10, run=run))
    monkeypatch.setattr(runs_view, "_ROW_CACHE_BYTES", 0)
    return local_uri


def test_a_big_stores_fold_lists_the_store_once(big_store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = RunsCache(open_store(big_store))
    listings = record_calls(monkeypatch, "find", cache.store)
    table = cache.get("exp").table
    segment_listings = [prefix for prefix in listings if prefix.startswith("seg")]
    assert len(segment_listings) == 1  # the snapshot's; the fold reads that snapshot, not a new one
    expected = query.runs(big_store, "exp")
    assert table.drop("status", "duration_s").equals(expected.drop("status", "duration_s"))
    assert table["run"].to_list() == [1, 2, 3, 4, 5, 6] and cache.files_read == 0


def test_a_big_stores_damaged_file_is_named(big_store: str) -> None:
    store = open_store(big_store)
    victim = next(f.path for f in store.find("seg"))
    Path(store.full_path(victim)).write_bytes(b"not parquet")
    with pytest.raises(DamagedFileError, match="1 damaged file") as raised:
        RunsCache(store).get("exp")
    assert raised.value.paths == [victim]
