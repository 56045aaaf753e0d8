"""Compactors racing each other, and compaction while writers append and readers read."""

from __future__ import annotations

import threading

import pytest

from eventlog.compaction.compactor import compact
from eventlog.core import manifest
from eventlog.core.segment import publish
from eventlog.core.store import open_store
from testkit import make_segment, seen, write_segments


def test_the_loser_of_a_race_over_the_same_segments_drops_its_file(any_uri: str) -> None:
    store = open_store(any_uri)
    logged = write_segments(store, "a", segments=6, events=100)
    rival: list[object] = []

    def rival_commits_first(step: str) -> None:
        if step == "before_commit" and not rival:
            rival.append(compact(store))  # another compactor merges the same segments and wins version 1

    report = compact(store, _fault=rival_commits_first)
    assert report.dropped == ["experiment=a/date=2026-11-23"] and report.version is None
    assert manifest.latest_version(store) == 1
    assert len(store.find("cmp")) == 1  # the loser deleted its never-visible file
    assert seen(store) == (logged, logged)


def test_a_race_over_different_partitions_rebases_and_both_commit(local_uri: str) -> None:
    store = open_store(local_uri)
    logged = write_segments(store, "a", segments=4, events=100) + write_segments(store, "b", segments=4, events=100)
    rival: list[object] = []

    def rival_commits_first(step: str) -> None:
        if step == "before_commit" and not rival:
            rival.append(compact(store, "b"))

    report = compact(store, "a", _fault=rival_commits_first)
    assert (report.version, report.conflicts, report.dropped) == (2, 1, [])
    latest = manifest.load_latest(store)
    assert sorted(f.partition.split("/")[0] for f in latest.files) == ["experiment=a", "experiment=b"]
    assert seen(store) == (logged, logged)


def test_two_compactor_threads_racing_stay_exactly_once(local_uri: str) -> None:
    store = open_store(local_uri)
    logged = 0
    for round_ in range(4):
        logged += write_segments(store, "a", segments=10, events=100, start=10 * round_)
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def run(barrier: threading.Barrier = barrier, errors: list[BaseException] = errors) -> None:
            try:
                barrier.wait()
                compact(store)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert seen(store) == (logged, logged)
    versions = [manifest.version_of(f.path) for f in manifest.list_versions(store)]
    assert versions == list(range(1, len(versions) + 1))  # one winner per version, no gaps


@pytest.mark.parametrize("backend", ["local", pytest.param("s3", marks=pytest.mark.s3)])
def test_writers_append_while_compactor_runs_and_every_read_is_exactly_once(backend: str, request: pytest.FixtureRequest) -> None:
    store = open_store(request.getfixturevalue(f"{backend}_uri"))
    per_writer = 60 if backend == "local" else 20
    published = [0]  # segments fully published (a lower bound of what a reader must see)
    started = [0]  # segments whose publish began (an upper bound: a reader may see them already)
    stop = threading.Event()
    lock = threading.Lock()

    def writer(name: str) -> None:
        seq = 0
        while not stop.is_set() and seq < per_writer * 100:
            with lock:
                started[0] += 100
            publish(store, make_segment("a", name, seq, 100))
            seq += 100
            with lock:
                published[0] += 100

    def compactor() -> None:
        while not stop.is_set():
            compact(store)

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(2)]
    threads.append(threading.Thread(target=compactor))
    for thread in threads:
        thread.start()
    checks = 0
    try:
        while any(t.is_alive() for t in threads[:2]) and checks < 40:
            with lock:
                before = published[0]
            total, distinct = seen(store)
            with lock:
                after = started[0]
            assert total == distinct, "a reader saw an event twice"
            assert before <= total <= after, "a reader missed a published event"
            checks += 1
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    compact(store)
    assert checks >= 2  # reads really happened while the writers wrote
    assert seen(store) == (published[0], published[0])
