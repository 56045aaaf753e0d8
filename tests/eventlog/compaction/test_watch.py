"""Compaction by itself: watchers on a timer (in a thread, `compact --watch`, `serve --compact-every`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

import eventlog
from eventlog.compaction import CompactionWatcher
from eventlog.compaction import compact as compact_store
from eventlog.core import manifest
from eventlog.core.store import Store, open_store
from testkit import seen, write_segments


def _age(store: Store, seconds: float, under: str = "seg") -> None:
    then = time.time() - seconds
    for info in store.find(under):
        os.utime(store.full_path(info.path), (then, then))


def _wait_for(condition: object, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_a_watcher_thread_compacts_what_accumulates(local_uri: str) -> None:
    store = open_store(local_uri)
    logged = write_segments(store, "a", segments=12, events=50)
    watcher = CompactionWatcher(store, every=0.2, min_lag=0).start()
    try:
        assert _wait_for(lambda: manifest.latest_version(store) >= 1)
        logged += write_segments(store, "a", segments=12, events=50, start=12)
        assert _wait_for(lambda: len(manifest.load_latest(store).covered_ids()) == 24)
    finally:
        watcher.stop(timeout=10)
    assert seen(store) == (logged, logged)


def test_the_automatic_policy_waits_for_enough_old_segments(local_uri: str) -> None:
    store = open_store(local_uri)
    write_segments(store, "a", segments=12, events=50)
    watcher = CompactionWatcher(store)
    report = watcher.run_once()
    assert report is not None and report.partitions == 0  # younger than 30 s: still being written
    _age(store, 60)
    few = open_store(local_uri)
    assert watcher.run_once().partitions == 1  # type: ignore[union-attr]
    write_segments(few, "a", segments=6, events=50, start=12)
    _age(few, 60)
    assert watcher.run_once().partitions == 0  # type: ignore[union-attr]  # 6 segments + 1 small file < 8 inputs


def test_many_watchers_on_one_store_while_writers_append_stay_exactly_once(local_uri: str) -> None:
    store = open_store(local_uri)
    watchers = [CompactionWatcher(open_store(local_uri), every=0.05, min_lag=0, min_files=2).start() for _ in range(3)]
    logged = 0
    lock = threading.Lock()
    try:
        for batch in range(10):
            with lock:
                logged += write_segments(store, "a", segments=4, events=25, start=batch * 4)
            time.sleep(0.05)
        assert _wait_for(lambda: len(manifest.load_latest(store).covered_ids()) == 40)
    finally:
        for watcher in watchers:
            watcher.stop(timeout=10)
    assert seen(store) == (logged, logged)


def test_compact_watch_on_the_command_line(local_uri: str) -> None:
    store = open_store(local_uri)
    logged = write_segments(store, "a", segments=10, events=50)
    command = [sys.executable, "-m", "eventlog.cli", "compact", "--store", local_uri, "--watch", "--every", "0.1"]
    done = subprocess.run([*command, "--cycles", "2", "--min-lag", "0"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "merged 10 files" in done.stdout and "every 0.1 s" in done.stderr
    assert manifest.latest_version(store) == 1 and seen(store) == (logged, logged)


def _serve(local_uri: str, port: int, *flags: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "eventlog.cli", "serve", "--store", local_uri, "--port", str(port), *flags]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop(server: subprocess.Popen[str]) -> str:
    server.send_signal(signal.SIGINT)
    return server.communicate(timeout=30)[1]


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
            return True
    except OSError:
        return False


def test_serve_compacts_every_so_often(local_uri: str, free_port: int) -> None:
    store = open_store(local_uri)
    logged = write_segments(store, "a", segments=10, events=50)
    _age(store, 60)
    server = _serve(local_uri, free_port, "--compact-every", "0.3")
    try:
        compacted = _wait_for(lambda: manifest.latest_version(store) >= 1)
    finally:
        errors = _stop(server)
    assert compacted, errors
    assert "compacting every 0.3 s" in errors
    assert seen(store) == (logged, logged)


def test_the_collector_compacts_and_collects_garbage_by_default(local_uri: str, free_port: int) -> None:
    """Nobody passes flags to keep a store tidy: a collector started plainly compacts its store and
    deletes what compaction made unused once the hour's grace period has passed."""
    store = open_store(local_uri)
    logged = write_segments(store, "a", segments=10, events=50)
    compact_store(store, "a", min_lag=0)  # an earlier compaction, committed two hours ago:
    then = time.time() - 7200
    for info in store.find(""):
        os.utime(store.full_path(info.path), (then, then))
    fresh = write_segments(store, "b", segments=10, events=50)
    _age(store, 60, "seg/experiment=b")  # old enough for the automatic policy (a's stay two hours old)
    server = _serve(local_uri, free_port)
    try:
        tidied = _wait_for(lambda: not store.find("seg/experiment=a") and manifest.latest_version(store) >= 2)
    finally:
        errors = _stop(server)
    assert tidied, errors
    assert "compacting every 60 s, deleting unused files after 3600 s" in " ".join(errors.split())  # rich wraps
    assert seen(store, "a") == (logged, logged) and seen(store, "b") == (fresh, fresh)
    covered = manifest.load_latest(store).covered_ids()  # b's; a's tombstones expired with their segments
    assert len(covered) == 10 and {partition.split("/")[0] for partition, _, _ in covered} == {"experiment=b"}


def test_a_collector_told_not_to_compact_leaves_the_store_alone(local_uri: str, free_port: int) -> None:
    store = open_store(local_uri)
    logged = write_segments(store, "a", segments=10, events=50)
    _age(store, 60)
    server = _serve(local_uri, free_port, "--compact-every", "0")
    try:
        assert _wait_for(lambda: _answers(free_port))
        time.sleep(1.0)  # a watcher would have run its first cycle at start
    finally:
        errors = _stop(server)
    assert "not compacting" in errors
    assert manifest.latest_version(store) == 0 and len(store.find("seg")) == 10
    assert seen(store) == (logged, logged)


def test_a_logger_compacts_the_experiments_it_writes_and_no_other(local_uri: str) -> None:
    store = open_store(local_uri)
    others = write_segments(store, "other", segments=10, events=50)  # another team's experiment
    with eventlog.open(local_uri, compact_every=0.2) as log:
        exp = log.experiment("sweep")
        for run in range(10):  # each stop flushes: one small segment per run
            exp.start()
            exp.log_metrics({"loss": 1.0 / (run + 1)}, step=0)
            exp.stop()
        _age(store, 60)  # the automatic policy leaves segments younger than 30 s alone
        assert _wait_for(lambda: len(manifest.load_latest(store).covered_ids()) == 10)
        compacted = {f.partition.split("/")[0] for f in manifest.load_latest(store).files}
        assert compacted == {"experiment=sweep"}  # the other experiment is not this logger's to rewrite
        assert log._compaction is not None and log._compaction._thread is not None
        thread = log._compaction._thread
    thread.join(timeout=10)
    assert not thread.is_alive()  # close() stops the watcher
    runs = eventlog.open(local_uri).experiment("sweep").runs()
    assert runs.height == 10 and sorted(runs["run"].to_list()) == list(range(1, 11))
    assert seen(store)[0] == others + 10 * 3  # start, loss, stop per run: nothing lost, nothing doubled


def test_compact_every_is_checked_at_open(local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="positive number of seconds"):
        eventlog.open(local_uri, compact_every=0)
    with pytest.raises(ValueError, match="collector"):
        eventlog.open("http://127.0.0.1:9", compact_every=60)
    monkeypatch.setenv("EVENTLOG_COMPACT_EVERY", "soon")
    with pytest.raises(ValueError, match=r"\$EVENTLOG_COMPACT_EVERY='soon'"):
        eventlog.open(local_uri)
    monkeypatch.setenv("EVENTLOG_COMPACT_EVERY", "30")
    with eventlog.open(local_uri) as log:
        assert log._compaction is not None and log._compaction.every == 30.0


def test_a_watcher_collects_covered_segments_once_the_grace_period_has_passed(local_uri: str) -> None:
    store = open_store(local_uri)
    logged = write_segments(store, "a", segments=10, events=50)
    _age(store, 60)
    watcher = CompactionWatcher(store, every=60, gc_grace=300)
    assert watcher.run_once().segments_merged == 10  # type: ignore[union-attr]
    assert len(store.find("seg")) == 10  # covered, but younger than the grace period: kept for running readers
    then = time.time() - 4000  # as if the covering manifest version was committed more than 300 s ago
    for info in store.find("seg") + store.find("_manifest"):
        os.utime(store.full_path(info.path), (then, then))
    watcher.run_once()
    assert store.find("seg") == []  # readers no longer list what the manifest covers
    assert seen(store) == (logged, logged)


def test_an_unsafe_grace_period_fails_at_start_not_every_cycle(local_uri: str) -> None:
    from eventlog.errors import UnsafeGraceError

    with pytest.raises(UnsafeGraceError, match="safe minimum"):
        CompactionWatcher(open_store(local_uri), gc_grace=10)
    with pytest.raises(ValueError, match="min_files"):
        CompactionWatcher(open_store(local_uri), min_files=0)
    for command in (["compact", "--watch", "--gc-grace", "10"], ["serve", "--compact-every", "60", "--gc-grace", "10"]):
        done = subprocess.run(
            [sys.executable, "-m", "eventlog.cli", *command, "--store", local_uri], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 1 and "safe minimum of 300 s" in done.stderr, done.stderr


def test_a_negative_period_for_serve_names_the_option(local_uri: str) -> None:
    for option in ("--compact-every", "--gc-grace"):
        done = subprocess.run(
            [sys.executable, "-m", "eventlog.cli", "serve", option, "-5", "--store", local_uri], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 1 and f"{option} -5: give a number of seconds, or 0 for never" in done.stderr, done.stderr
