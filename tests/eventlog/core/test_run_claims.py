"""Run numbers are claimed atomically: racing starters never share a number; ranks of a job do."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from eventlog.core.run_claims import claim_run, latest_run, list_runs
from eventlog.core.store import open_store


def test_sequential_claims_count_up(any_uri: str) -> None:
    store = open_store(any_uri)
    assert latest_run(store, "e") is None
    assert [claim_run(store, "e", writer="w") for _ in range(3)] == [1, 2, 3]
    assert list_runs(store, "e") == [1, 2, 3]
    assert claim_run(store, "other", writer="w") == 1


def test_threads_racing_get_distinct_numbers(any_uri: str) -> None:
    store = open_store(any_uri)
    got: list[int] = []
    barrier = threading.Barrier(10)

    def start() -> None:
        barrier.wait()
        got.append(claim_run(store, "race", writer=f"w{threading.get_ident()}"))

    threads = [threading.Thread(target=start) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(1, 11))


def test_ranks_of_one_job_share_one_run(any_uri: str) -> None:
    store = open_store(any_uri)
    claim_run(store, "ddp", writer="earlier")
    got: list[int] = []
    barrier = threading.Barrier(8)

    def rank() -> None:
        barrier.wait()
        got.append(claim_run(store, "ddp", writer=f"w{threading.get_ident()}", job="job-42"))

    threads = [threading.Thread(target=rank) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [2] * 8
    assert claim_run(store, "ddp", writer="late rank", job="job-42") == 2
    assert claim_run(store, "ddp", writer="next job", job="job-43") == 3


def test_processes_racing_on_local_disk_get_distinct_numbers(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    code = (
        "import sys; from eventlog.core.store import open_store; from eventlog.core.run_claims import claim_run;"
        "print(claim_run(open_store(sys.argv[1]), 'p', writer=sys.argv[2]))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, uri, f"w{i}"], stdout=subprocess.PIPE, text=True, env=os.environ.copy())
        for i in range(6)
    ]
    numbers = sorted(int(p.communicate(timeout=60)[0]) for p in procs)
    assert numbers == list(range(1, 7))


@pytest.mark.s3
def test_claims_on_s3_are_objects_under_runs(s3_uri: str) -> None:
    store = open_store(s3_uri)
    assert claim_run(store, "e", writer="w") == 1
    assert [f.path for f in store.find("runs")] == ["runs/experiment=e/00000000000000000001"]
