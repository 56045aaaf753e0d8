"""The maintenance commands of the CLI (recover, compact, gc, serve, import), as subprocesses on a real store."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import polars as pl
import pytest

import eventlog
from eventlog.core.identity import Identity
from eventlog.core.store import open_store
from ingest.buffer import WriteBuffer
from ingest.spool import Spool, spool_dir

T0 = 1_763_856_000 * 10**9


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "eventlog.cli", *args], capture_output=True, text=True, timeout=180,
                          env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)


def events_in(uri: str, experiment: str) -> int:
    done = cli("data", experiment, "--store", uri, "--format", "csv")
    assert done.returncode == 0, done.stderr
    return pl.read_csv(io.StringIO(done.stdout)).height


def test_recover_publishes_a_dead_writers_spool(local_uri: str, tmp_path: Path) -> None:
    spool_base = str(tmp_path / "spool")
    store = open_store(local_uri)
    buffer = WriteBuffer(Identity(node="n", userid="u", rank=None, writer="dead-1"))
    slot = buffer.slot("crashed", 1, "metric", "loss")
    buffer.add_metrics((slot, float(i), i, T0 + i) for i in range(25))
    spool = Spool(spool_dir(store, spool_base), "dead-1")
    spool.append(buffer.drain())
    spool.close(remove=False)  # the writer died with its frames in the spool
    done = cli("recover", "--store", local_uri, env={"EVENTLOG_SPOOL_DIR": spool_base})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"recovered 25 events into {local_uri}"
    assert events_in(local_uri, "crashed") == 25
    again = cli("recover", "--store", local_uri, env={"EVENTLOG_SPOOL_DIR": spool_base})
    assert again.stdout.strip().startswith("recovered 0 events")


@pytest.fixture
def small_store(local_uri: str) -> str:
    log = eventlog.open(local_uri, flush_every=60)
    exp = log.experiment("ops")
    for _ in range(3):  # one segment per run (stop flushes): the compact test counts them
        with exp:
            for step in range(5):
                exp.log_metric("loss", 1.0 / (step + 1), step=step)
    log.close()
    return local_uri


@pytest.mark.slow
@pytest.mark.parametrize("command", [["compact"], ["gc"], ["import", "jsonl", "-"]])
def test_compact_gc_import_keep_what_queries_return(command: list[str], small_store: str) -> None:
    before = events_in(small_store, "ops")
    done = cli(*command, "--store", small_store)
    assert done.returncode == 0, done.stderr
    assert events_in(small_store, "ops") == before  # maintenance never changes what a query returns
    if command == ["compact"]:
        assert "files_merged: 3" in done.stdout and "files_written: 1" in done.stdout, done.stdout
        files = cli("files", "ops", "--store", small_store).stdout.splitlines()
        assert len(files) == 1 and "/cmp/" in files[0]
    if command == ["gc"]:
        assert "dry run" in done.stdout


def test_serve_fails_cleanly_on_a_store_it_cannot_create(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    done = cli("serve", "--store", str(tmp_path / "a-file" / "store"), "--port", "0")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_import_jsonl_from_stdin_with_progress(local_uri: str) -> None:
    lines = "".join(json.dumps({"experiment": "piped", "key": "loss", "value": 1 / (s + 1), "step": s}) + "\n" for s in range(7))
    done = subprocess.run([sys.executable, "-m", "eventlog.cli", "import", "jsonl", "-", "--store", local_uri],
                          input=lines + "not json\n", capture_output=True, text=True, timeout=180)
    # Regression (issue 14): a rejected line exited 0; the good lines are imported all the same.
    assert done.returncode == 1 and "1 line(s) of - were rejected" in done.stderr, done.stderr
    assert "imported - into" in done.stdout and "line 8" in done.stdout
    metrics = pl.read_csv(io.StringIO(cli("data", "piped", "--store", local_uri, "--event", "metric", "-f", "csv").stdout))
    assert metrics["step"].to_list() == list(range(7))


def test_serve_runs_the_collector_that_remote_writers_log_to(local_uri: str, free_port: int) -> None:
    os.makedirs(local_uri, exist_ok=True)
    port = free_port
    server = subprocess.Popen([sys.executable, "-m", "eventlog.cli", "serve", "--store", local_uri, "--port", str(port),
                               "--token", "secret"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:  # the server process is starting: retry the connection until it listens
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as reply:
                    assert reply.status == 200
                break
            except OSError:
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "collector did not start"
                time.sleep(0.1)
        log = eventlog.open(f"http://127.0.0.1:{port}", token="secret")
        exp = log.experiment("remote")
        with exp:
            for step in range(4):
                exp.log_metric("loss", float(step), step=step)
        log.close()
        assert events_in(local_uri, "remote") == 6  # start, 4 metrics, stop
    finally:
        server.terminate()
        server.communicate(timeout=60)
