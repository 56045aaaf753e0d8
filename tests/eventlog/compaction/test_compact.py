"""The compactor merges segments into sorted, de-duplicated files that readers see exactly once."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

import eventlog
from eventlog.compaction.compactor import CompactionReport, compact
from eventlog.compaction.merge import SOURCES_KEY
from eventlog.core import manifest
from eventlog.core.segment import publish
from eventlog.core.store import CLOCK_PROBES, open_store
from query.snapshot import take_snapshot
from testkit import log_loss_runs, make_segment, seen, write_segments


def test_compaction_merges_segments_and_readers_see_every_event_once(any_uri: str) -> None:
    store = open_store(any_uri)
    logged = write_segments(store, "a", segments=12, events=500)
    assert seen(store) == (logged, logged)
    report = compact(store, "a")
    assert isinstance(report, CompactionReport)
    assert (report.files_merged, report.segments_merged, report.events, report.version) == (12, 12, logged, 1)
    assert report.bytes_in > 0 and report.bytes_out > 0 and "merged 12 files" in str(report)
    snapshot = take_snapshot(store, "a")
    assert [p.split("/")[0] for p in snapshot.paths] == ["cmp"]
    assert snapshot.manifest_version == 1
    assert seen(store, "a") == (logged, logged)


def test_compacted_file_is_sorted_and_lists_its_sources(local_uri: str) -> None:
    store = open_store(local_uri)
    write_segments(store, "a", segments=6, events=300, writers=3)
    sources = sorted(f.path for f in store.find("seg"))
    compact(store)
    (path,) = take_snapshot(store).paths
    table = pq.read_table(store.full_path(path))
    rows = list(zip(*(table.column(c).to_pylist() for c in ("run", "key", "step", "dt", "writer", "seq"))))
    assert rows == sorted(rows)
    metadata = pq.read_metadata(store.full_path(path)).metadata
    assert sorted(json.loads(metadata[SOURCES_KEY.encode()])) == sources


def test_duplicate_copies_of_events_are_merged_into_one(local_uri: str) -> None:
    store = open_store(local_uri)
    segment = make_segment("a", "w0", 0, 200)
    publish(store, segment)
    # The same events under another name (a copy made by some other tool): readers see both copies until compaction.
    store.create(segment.path.replace(f"{0:020d}", f"{1:020d}"), segment.data)
    assert seen(store) == (400, 200)
    assert compact(store).events == 200
    assert seen(store) == (200, 200)


def test_small_compacted_files_are_merged_again_with_new_segments(local_uri: str) -> None:
    store = open_store(local_uri)
    write_segments(store, "a", segments=4, events=100)
    compact(store)
    write_segments(store, "a", segments=4, events=100, start=4)
    report = compact(store)
    assert (report.files_merged, report.segments_merged, report.files_written) == (5, 4, 1)
    assert len(take_snapshot(store).paths) == 1
    assert seen(store) == (800, 800)


def test_max_events_bounds_each_output_file(local_uri: str) -> None:
    store = open_store(local_uri)
    write_segments(store, "a", segments=10, events=100)
    report = compact(store, max_events=250)
    assert report.files_written == 5  # 2 segments of 100 per file
    assert all(f.events <= 250 for f in manifest.load_latest(store).files)
    assert seen(store) == (1000, 1000)


def test_min_lag_leaves_young_segments_alone(local_uri: str) -> None:
    store = open_store(local_uri)
    write_segments(store, "a", segments=3, events=50)
    report = compact(store, min_lag=3600)
    assert report.files_merged == 0 and report.version is None and str(report).startswith("nothing to compact")
    assert manifest.latest_version(store) == 0


def test_min_lag_is_measured_by_the_storage_clock(local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: a machine clock hours ahead of the storage's made fresh segments look old enough."""
    store = open_store(local_uri)
    write_segments(store, "a", segments=3, events=50)
    ahead = SimpleNamespace(
        time=lambda: time.time() + 7200, perf_counter=time.perf_counter, monotonic=time.monotonic, sleep=time.sleep
    )
    monkeypatch.setattr("eventlog.compaction.compactor.time", ahead)
    assert compact(store, min_lag=3600).files_merged == 0
    assert store.find(CLOCK_PROBES) == []


def test_only_the_named_experiment_is_compacted_and_progress_is_reported(local_uri: str) -> None:
    store = open_store(local_uri)
    write_segments(store, "a", segments=3, events=50)
    write_segments(store, "b", segments=3, events=50)
    calls: list[tuple[int, int]] = []
    report = compact(store, "a", progress=lambda done, total: calls.append((done, total)))
    assert report.segments_merged == 3
    assert calls[0] == (0, 3) and calls[-1] == (3, 3)
    assert {p.split("/")[0] for p in take_snapshot(store, "b").paths} == {"seg"}
    assert seen(store, "a") == (150, 150) and seen(store, "b") == (150, 150)


def test_bad_policy_options_say_what_is_wrong(local_uri: str) -> None:
    store = open_store(local_uri)
    with pytest.raises(TypeError, match="unknown compaction option"):
        compact(store, target_size=1)
    with pytest.raises(ValueError, match="min_lag"):
        compact(store, min_lag=-1)


def test_log_compact_keeps_data_runs_and_summary(local_uri: str) -> None:
    log = eventlog.open(local_uri, flush_every=3600)
    exp = log.experiment("train")
    log_loss_runs(exp, runs=3, steps=50)
    before = (exp.data(run="*").drop("dt").sort(["run", "step", "event"]), exp.summary(), exp.runs().drop("duration_s"))
    report = log.compact()
    assert report.files_merged >= 3
    after = (exp.data(run="*").drop("dt").sort(["run", "step", "event"]), exp.summary(), exp.runs().drop("duration_s"))
    for old, new in zip(before, after):
        assert_frame_equal(old, new, check_exact=False)  # sums over another row order differ in the last bits
    log.close()


def test_forgetting_an_experiment_before_clearing_keeps_readers_working(local_uri: str) -> None:
    from eventlog.compaction.clear import clear_experiment
    from eventlog.compaction.compactor import forget_experiment

    store = open_store(local_uri)
    write_segments(store, "a", segments=3, events=10)
    write_segments(store, "ab", segments=3, events=10)
    compact(store)
    assert forget_experiment(store, "a") == 3  # versions 1 and 2 compacted a and ab
    assert seen(store, "a") == (30, 30)  # its raw segments, until they are deleted
    clear_experiment(store, "a")
    assert seen(store) == (30, 30) and seen(store, "ab") == (30, 30)
    assert [f.partition for f in manifest.load_latest(store).files] == ["experiment=ab/date=2026-11-23"]
    assert forget_experiment(store, "a") is None


def test_a_corrupt_segment_fails_with_a_clear_error_and_changes_nothing(any_uri: str) -> None:
    from eventlog.compaction.compactor import CompactionError

    store = open_store(any_uri)
    write_segments(store, "a", segments=3, events=10)
    bad = "seg/experiment=a/date=2026-11-23/bad/00000000000000000000.parquet"
    store.create(bad, b"PAR1 not really parquet")
    with pytest.raises(CompactionError, match="nothing of it was committed") as caught:
        compact(store)
    assert bad in str(caught.value)  # regression: the message said "the file named above" but named none
    assert manifest.latest_version(store) == 0 and store.find("cmp") == []


def test_a_damaged_partition_does_not_stop_the_others(any_uri: str) -> None:
    from eventlog.compaction.compactor import CompactionError

    store = open_store(any_uri)
    write_segments(store, "a", segments=3, events=10)
    write_segments(store, "b", segments=3, events=10)
    bad = "seg/experiment=a/date=2026-11-23/bad/00000000000000000000.parquet"
    store.create(bad, b"PAR1")  # a truncated file, as a full disk leaves
    with pytest.raises(CompactionError, match="1 of 2 partition") as caught:
        compact(store)
    report = caught.value.report  # type: ignore[attr-defined]
    assert report.failed == ["experiment=a/date=2026-11-23"] and report.partitions == 1
    assert [f.partition for f in manifest.load_latest(store).files] == ["experiment=b/date=2026-11-23"]
    assert bad in str(caught.value)
