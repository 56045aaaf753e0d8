"""`files()` lists what other engines may read: filtered by experiment, run and time, with a validity, pinnable."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time

import polars as pl
import pytest

import query
from eventlog.compaction.compactor import compact
from eventlog.compaction.gc import collect_garbage
from eventlog.core.segment import polars_scan_options, publish
from eventlog.core.store import Store, open_store
from query.filters import InvalidFilterError
from testkit import BASE_NS, make_segment

DAY_US = 86_400 * 10**6  # make_segment spaces events 1 µs apart by seq


def _fill(store: Store) -> None:
    """Runs 1-3 of `a` on day 0 (one segment each), run 4 on day 0 and day 2; `b` run 1."""
    for run in (1, 2, 3):
        publish(store, make_segment("a", f"w{run}", 0, 20, run=run))
    publish(store, make_segment("a", "w4", 0, 20, run=4))
    publish(store, make_segment("a", "w4", 2 * DAY_US, 20, run=4))
    publish(store, make_segment("b", "w1", 0, 20, run=1))


def _events(urls: list[str]) -> pl.DataFrame:
    return pl.scan_parquet(urls, **polars_scan_options()).collect()  # raw (ns, as old stores) and compacted (us) files


def test_run_and_time_filters_keep_every_matching_event_and_prune_the_rest(local_uri: str) -> None:
    store = open_store(local_uri)
    _fill(store)
    assert len(query.files(store)) == 6 and len(query.files(store, "a")) == 5
    two = query.files(store, "a", run=2)
    assert len(two) == 1 and _events(two)["run"].unique().to_list() == [2]
    assert len(query.files(store, "a", run=[1, 3])) == 2

    day0 = dt.datetime.fromtimestamp(BASE_NS / 1e9, dt.UTC)
    later = query.files(store, "a", since=day0 + dt.timedelta(days=1))
    assert len(later) == 1 and _events(later)["run"].to_list() == [4] * 20  # pruned by the date partition
    early = query.files(store, "a", run=4, end=day0 + dt.timedelta(hours=1))
    assert len(early) == 1 and _events(early)["dt"].max() < day0 + dt.timedelta(days=1)
    within = query.files(store, "a", since=day0 + dt.timedelta(microseconds=5), end=day0 + dt.timedelta(microseconds=6))
    assert len(within) == 4  # footer statistics: every day-0 segment spans that instant
    assert query.files(store, "a", run=99) == []
    with pytest.raises(InvalidFilterError, match="run"):
        query.files(store, "a", run="x*")  # type: ignore[arg-type]


def test_compacted_files_are_listed_once_and_still_pruned_by_statistics(local_uri: str) -> None:
    store = open_store(local_uri)
    _fill(store)
    compact(store)
    listed = query.list_files(store, "a")
    assert listed.manifest_version is not None
    assert sum("/cmp/" in url for url in listed.urls) == 1 and len(listed.urls) == 2  # day 0 merged; day 2's lone segment not
    total = _events(listed.urls)
    assert total.height == 100 and total.select("writer", "seq").unique().height == 100
    assert query.files(store, "a", run=99) == []


def test_json_names_the_manifest_version_and_how_long_the_list_holds(local_uri: str) -> None:
    store = open_store(local_uri)
    _fill(store)
    compact(store)
    command = [sys.executable, "-m", "eventlog.cli", "files", "a", "--run", "2", "--json", "--store", local_uri]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert listed["manifest_version"] == query.list_files(store).manifest_version
    taken, until = (dt.datetime.fromisoformat(listed[k]) for k in ("taken_at", "valid_until"))
    assert until - taken == dt.timedelta(seconds=300)  # gc's minimum grace
    assert _events(listed["files"]).filter(pl.col("run") == 2).height == 20


def test_a_pinned_list_survives_gc_until_unpinned(local_uri: str) -> None:
    store = open_store(local_uri)
    _fill(store)
    pinned = query.pin_files(store, "a", hold="2d")  # the raw segments, about to be covered
    assert pinned.pin is not None and pinned.valid_until - pinned.taken_at == dt.timedelta(days=2)
    compact(store)
    report = collect_garbage(store, grace=0, force=True, dry_run=False)
    assert report.pinned == 4 and report.segments == []  # day 0's four covered segments stay for the pin
    assert _events(pinned.urls).height == 100  # the long job still reads every file

    query.unpin(store, pinned.pin)
    assert len(collect_garbage(store, grace=0, force=True, dry_run=False).segments) == 4
    with pytest.raises(FileNotFoundError, match="no pin"):
        query.unpin(store, pinned.pin)


def test_an_expired_pin_holds_nothing_and_is_collected(local_uri: str) -> None:
    store = open_store(local_uri)
    _fill(store)
    pinned = query.pin_files(store, "a", hold=0.2)
    compact(store)
    time.sleep(0.5)
    report = collect_garbage(store, grace=0, force=True, dry_run=False)
    assert report.pinned == 0 and len(report.segments) == 4 and report.pins == [f"_pins/{pinned.pin}.json"]
    assert store.find("_pins") == []


def test_the_cli_pins_and_unpins(local_uri: str) -> None:
    store = open_store(local_uri)
    _fill(store)
    base = [sys.executable, "-m", "eventlog.cli", "files", "a", "--store", local_uri]
    done = subprocess.run([*base, "--pin", "1h"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.split()) == 5
    pin_id = done.stderr.rsplit("--unpin ", 1)[1].strip()
    assert len(store.find("_pins")) == 1
    undone = subprocess.run([*base, "--unpin", pin_id], capture_output=True, text=True, timeout=120)
    assert undone.returncode == 0, undone.stderr
    assert store.find("_pins") == []
