"""SIGTERM (pre-emption) flushes and marks the run `preempted`; the user's handler still runs; exit never hangs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import query

CHILD = textwrap.dedent(
    """
    import signal, sys, time
    import eventlog

    mode = sys.argv[2]
    if mode == "user-handler":
        def mine(signum, frame):
            print("user handler ran", flush=True)
            sys.exit(3)
        signal.signal(signal.SIGTERM, mine)

    log = eventlog.open(sys.argv[1], flush_every=3600)
    with log.experiment("e") as exp:
        exp.log_param("lr", 0.1)
        i = 0
        while True:
            exp.log_metric("x", float(i), step=i)
            i += 1
            if i == 1000:
                exp.flush()
                print("ready", flush=True)
    """
)


def run_until_sigterm(uri: str, mode: str, spool: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, uri, mode],
        env={**os.environ, "EVENTLOG_SPOOL_DIR": spool},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_sigterm_flushes_marks_the_run_preempted_and_dies_of_sigterm(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    done = run_until_sigterm(uri, "default", str(tmp_path / "spool"))
    assert done.returncode == -signal.SIGTERM, done.stderr
    runs = query.runs(uri, "e")
    assert runs["status"].to_list() == ["preempted"]
    metrics = query.data(uri, experiment="e", run="*", event="metric")
    steps = metrics["step"].to_list()
    assert len(steps) >= 1000 and sorted(steps) == list(range(len(steps)))  # logged before the signal: all there
    assert list((tmp_path / "spool").rglob("*.spool")) == []  # closed cleanly: nothing left to recover


def test_the_users_own_sigterm_handler_still_runs(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    done = run_until_sigterm(uri, "user-handler", str(tmp_path / "spool"))
    assert done.returncode == 3, done.stderr
    assert "user handler ran" in done.stdout
    assert query.runs(uri, "e")["status"].to_list() == ["preempted"]  # not `failed` by the SystemExit


HUNG_STORE = textwrap.dedent(
    """
    import sys, threading
    import eventlog

    log = eventlog.open(sys.argv[1], flush_every=3600, close_timeout=1.0)
    exp = log.experiment("e")
    exp.start()
    log.store.create = lambda path, data: threading.Event().wait()  # a store that never answers
    exp.log_metric("x", 1.0)
    print("exiting", flush=True)
    """
)


def test_exit_with_a_hung_store_does_not_hang(tmp_path: Path) -> None:
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", HUNG_STORE, str(tmp_path / "store")],
        env={**os.environ, "EVENTLOG_SPOOL_DIR": str(tmp_path / "spool")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "exiting" in done.stdout
    assert time.monotonic() - began < 20
    assert "did not finish within 1.0 s" in done.stderr  # the loss is reported, not silent
    assert len(list((tmp_path / "spool").rglob("*.spool"))) == 1  # and recoverable later
