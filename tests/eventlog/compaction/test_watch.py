"""Compaction by itself: watchers on a timer (in a thread, `compact --watch`, `serve --compact-every`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from eventlog.compaction import CompactionWatcher
from eventlog.core import manifest
from eventlog.core.store import Store, open_store
from testkit import seen, write_segments


def _age(store: Store, seconds: float) -> None:
    then = time.time() - seconds
    for info in store.find("seg"):
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


def test_serve_compacts_every_so_often(local_uri: str, free_port: int) -> None:
    store = open_store(local_uri)
    logged = write_segments(store, "a", segments=10, events=50)
    _age(store, 60)
    command = [sys.executable, "-m", "eventlog.cli", "serve", "--store", local_uri, "--port", str(free_port), "--compact-every", "0.3"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        compacted = _wait_for(lambda: manifest.latest_version(store) >= 1)
    finally:
        server.send_signal(signal.SIGINT)
        _, errors = server.communicate(timeout=30)
    assert compacted, errors
    assert "compacting every 0.3 s" in errors
    assert seen(store) == (logged, logged)
