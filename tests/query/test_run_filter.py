"""The run filter prunes by the run range a segment's name states: a read of one run opens only its files."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from eventlog.compaction import compact
from eventlog.core import layout
from eventlog.core.manifest import load_latest
from eventlog.core.segment import publish
from eventlog.core.store import FileInfo, Store, open_store
from query import data, runs
from query.files import list_files
from query.run_filter import may_hold_runs, skip_other_runs
from query.snapshot import Snapshot, take_snapshot
from query.tail import Follower
from testkit import make_segment, record_calls

EVENTS = 5


@pytest.mark.parametrize(
    ("run", "kept"),
    [
        (7, True),
        (3, True),
        (2, False),
        (10, False),
        (7.0, True),
        ([1, 2, 11], False),
        ([1, 5], True),
        (slice(8, None), True),
        (slice(None, 3), False),  # the stop is exclusive
        (slice(None, 4), True),
        (slice(10, 20), False),
        (slice(1, 20, 7), True),  # a step prunes nothing
        ("*", True),
        (None, True),
        ("re:^1", True),  # a pattern may match
        ([], False),
        (True, True),
    ],
)
def test_a_file_of_runs_3_to_9_may_hold_what_the_filter_wants(run: Any, kept: bool) -> None:
    assert may_hold_runs(run, 3, 9) is kept


def _store_of_runs(uri: str, count: int) -> Store:
    store = open_store(uri)
    for run in range(1, count + 1):
        publish(store, make_segment("exp", f"w{run:03d}", 0, EVENTS, run=run))
    return store


def test_skip_other_runs_keeps_compacted_files_and_unnamed_segments(memory_uri: str) -> None:
    store = open_store(memory_uri)
    files = [
        FileInfo(layout.segment_path("exp", "2026-01-01", "w1", 0, (1, 2)), 1, 0.0),
        FileInfo(layout.segment_path("exp", "2026-01-01", "w2", 0, (5, 5)), 1, 0.0),
        FileInfo(layout.segment_path("exp", "2026-01-01", "w3", 0), 1, 0.0),
        FileInfo("cmp/experiment=exp/date=2026-01-01/00000000000000000001-abc.parquet", 1, 0.0),
        FileInfo(layout.segment_path("other", "2026-01-01", "w1", 0, (5, 5)), 1, 0.0),
    ]
    pruned = skip_other_runs(Snapshot(store, files), lambda experiment: 5 if experiment == "exp" else [])
    assert [f.path for f in pruned.files] == [files[1].path, files[2].path, files[3].path]


def test_one_runs_data_reads_only_its_segments(memory_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _store_of_runs(memory_uri, 30)
    read = record_calls(monkeypatch, "read", store)
    frame = data(store, "exp", run=17)
    assert frame.height == EVENTS and set(frame["run"]) == {17}
    assert [layout.segment_runs(p) for p in read] == [(17, 17)]


def test_the_latest_run_is_resolved_before_pruning(memory_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _store_of_runs(memory_uri, 12)
    read = record_calls(monkeypatch, "read", store)
    frame = data(store, "exp", run=[-1, 3])
    assert sorted(set(frame["run"])) == [3, 12]
    assert sorted(layout.segment_runs(p) for p in read) == [(3, 3), (12, 12)]  # type: ignore[type-var]


def test_segments_without_a_range_are_still_read(memory_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store written before segment names stated their runs reads as before."""
    store = open_store(memory_uri)
    for run in (1, 2):
        segment = make_segment("exp", f"w{run}", 0, EVENTS, run=run)
        store.create(layout.segment_path(segment.experiment, segment.date, segment.writer, 0), segment.data)
    publish(store, make_segment("exp", "w3", 0, EVENTS, run=3))
    assert sorted(set(data(store, "exp", run=2)["run"])) == [2]
    assert runs(store, "exp")["run"].to_list() == [1, 2, 3]
    read = record_calls(monkeypatch, "read", store)
    data(store, "exp", run=1)
    assert len(read) == 2  # both unnamed segments; not run 3's


def _compacted_in_thirds(uri: str) -> Store:
    """30 runs, writers named out of run order, compacted into 3 files of 10 runs each."""
    store = open_store(uri)
    for run in range(1, 31):
        publish(store, make_segment("exp", f"w{run * 7 % 31:03d}", 0, EVENTS, run=run))
    assert compact(store, "exp", max_events=10 * EVENTS).files_written == 3
    return store


def test_compacted_files_state_narrow_run_ranges_and_one_run_opens_one(memory_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _compacted_in_thirds(memory_uri)
    ranges = sorted(f.runs for f in load_latest(store).files)  # type: ignore[type-var]
    assert ranges == [(1, 10), (11, 20), (21, 30)]  # inputs merged in run order, not path order
    read = record_calls(monkeypatch, "read", store)
    frame = data(store, "exp", run=17)
    assert frame.height == EVENTS and set(frame["run"]) == {17}
    assert len(read) == 1 and read[0].startswith("cmp/")
    assert runs(store, "exp")["run"].to_list() == list(range(1, 31))


def test_a_compacted_file_without_a_range_is_always_read(memory_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Files compacted before ranges were recorded state none in the manifest: they may hold any run."""
    store = _compacted_in_thirds(memory_uri)
    snapshot = take_snapshot(store, "exp")
    assert len(skip_other_runs(snapshot, lambda _: 17).files) == 1
    unstated = replace(snapshot, compacted_runs={})
    assert len(skip_other_runs(unstated, lambda _: 17).files) == 3


def test_a_follower_of_one_run_opens_one_compacted_file(memory_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _compacted_in_thirds(memory_uri)
    follower = Follower(store, "exp", run=17)  # takes its first snapshot (the manifest's reads)
    read = record_calls(monkeypatch, "read", store)
    assert set(follower.history(last=100)["run"]) == {17}
    assert len(read) == 1 and read[0].startswith("cmp/")


def test_files_of_one_run_read_no_footer_of_a_segment_named_for_it(memory_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _store_of_runs(memory_uri, 30)
    opened = record_calls(monkeypatch, "open", store.fs)
    listed = list_files(store, "exp", run=17)
    assert [layout.segment_runs(p) for p in listed.paths] == [(17, 17)]
    assert opened == []
    assert list_files(store, "exp", run=[17], since="3650d").paths == listed.paths
    assert len(opened) == 1  # a time filter still needs the footer's dt statistics


@pytest.fixture
def s3_requests() -> Iterator[list[str]]:
    """The request lines the in-process moto server answers from now on (werkzeug's access log)."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("werkzeug")
    handler, level = Collect(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_one_runs_data_on_s3_gets_no_other_segment(s3_uri: str, s3_requests: list[str]) -> None:
    store = _store_of_runs(s3_uri, 40)
    take_snapshot(store, "exp")  # warm: nothing below depends on it
    s3_requests.clear()
    frame = data(s3_uri, "exp", run=23)
    assert frame.height == EVENTS and set(frame["run"]) == {23}
    gets = {line.split("GET ", 1)[1].split()[0] for line in s3_requests if "GET " in line and "/seg/" in line and "list-type" not in line}
    assert len(gets) == 1 and gets.pop().endswith(".runs-23-23.parquet")
    listings = [line for line in s3_requests if "list-type=2" in line]
    assert 1 <= len(listings) <= 6, listings  # the bucket, the manifests and the experiment's segments: not one per file


def test_one_runs_data_on_s3_gets_one_compacted_file_of_three(s3_uri: str, s3_requests: list[str]) -> None:
    _compacted_in_thirds(s3_uri)
    s3_requests.clear()
    frame = data(s3_uri, "exp", run=23)
    assert frame.height == EVENTS and set(frame["run"]) == {23}
    gets = {line.split("GET ", 1)[1].split()[0] for line in s3_requests if "GET " in line and "/cmp/" in line}
    assert len(gets) == 1, gets
