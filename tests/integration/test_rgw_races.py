"""Races on a real object store (Ceph RGW, whose conditional PUT is race-safe, unlike moto's).

Many writers at the same instant: create-if-absent has exactly one winner, run claims hand out
distinct numbers (or, for ranks of one job, the same number), and recovery racing a live writer
never duplicates a segment.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from eventlog.core import run_claims
from eventlog.core.identity import Identity
from eventlog.core.segment import publish
from eventlog.core.store import Store, open_store
from eventlog.errors import AlreadyExistsError
from ingest.buffer import WriteBuffer

pytestmark = pytest.mark.integration

WRITERS = 16


def race(n: int, action: Callable[[int], Any]) -> list[Any]:
    """Run action(0..n-1) in n threads released at the same instant; results (or exceptions) in order."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = action(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def stores(uri: str, n: int) -> list[Store]:
    """n independent clients (each its own s3fs instance and connection pool)."""
    return [open_store(uri) for _ in range(n)]


def test_create_if_absent_has_exactly_one_winner(rgw_uri: str) -> None:
    clients = stores(rgw_uri, WRITERS)
    for trial in range(20):
        path = f"race/{trial:04d}"

        def create(i: int, path: str = path) -> str:
            clients[i].create(path, f"writer {i}".encode())
            return "won"

        results = race(WRITERS, create)
        winners = [i for i, r in enumerate(results) if r == "won"]
        assert len(winners) == 1, results
        assert all(isinstance(r, AlreadyExistsError) for r in results if r != "won"), results
        assert clients[0].read(path) == f"writer {winners[0]}".encode()


def test_concurrent_run_claims_get_distinct_numbers(rgw_uri: str) -> None:
    clients = stores(rgw_uri, WRITERS)
    for trial in range(3):
        experiment = f"claims-{trial}"
        numbers = race(WRITERS, lambda i, e=experiment: run_claims.claim_run(clients[i], e, writer=f"w{i}"))
        assert sorted(numbers) == list(range(1, WRITERS + 1)), numbers


def test_ranks_of_two_jobs_racing_get_one_run_per_job(rgw_uri: str) -> None:
    clients = stores(rgw_uri, WRITERS)
    for trial in range(3):
        experiment = f"jobs-{trial}"
        numbers = race(
            WRITERS, lambda i, e=experiment: run_claims.claim_run(clients[i], e, writer=f"w{i}", job=f"job-{i % 2}")
        )
        job0 = {n for i, n in enumerate(numbers) if i % 2 == 0}
        job1 = {n for i, n in enumerate(numbers) if i % 2 == 1}
        assert len(job0) == 1 and len(job1) == 1 and job0 != job1, numbers
        assert job0 | job1 == {1, 2}


def test_recovery_racing_the_live_writer_publishes_each_segment_once(rgw_uri: str) -> None:
    buffer = WriteBuffer(Identity(node="n", userid="u", rank=None, writer="w-live"))
    slot = buffer.slot("e", 1, "metric", "x")
    buffer.add_metrics((slot, float(i), i, 1_763_856_000 * 10**9 + i) for i in range(500))
    (segment,) = buffer.drain()
    clients = stores(rgw_uri, 8)
    created = race(8, lambda i: publish(clients[i], segment))
    assert created.count(True) == 1 and created.count(False) == 7, created
    files = clients[0].find("seg")
    assert [f.path for f in files] == [segment.path]
    table = pq.read_table(io.BytesIO(clients[0].read(segment.path)))
    assert table.num_rows == 500


RANK = textwrap.dedent(
    """
    import sys
    import eventlog

    log = eventlog.open(sys.argv[1], flush_every=3600)
    with log.experiment("ddp") as exp:
        for i in range(200):
            exp.log_metric("loss", float(i), step=i)
    print(exp.run)
    """
)


def test_16_rank_processes_share_one_run(rgw_uri: str, tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if k not in ("RANK", "EVENTLOG_RUN_ID")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RANK, rgw_uri],
            env={**base, "EVENTLOG_RUN_ID": "job-rgw", "RANK": str(r), "EVENTLOG_SPOOL_DIR": str(tmp_path)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in range(WRITERS)
    ]
    runs = set()
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        runs.add(int(out))
    assert len(runs) == 1
    import query

    events = query.data(rgw_uri, experiment="ddp", run=runs.pop(), event="metric")
    assert dict(events.group_by("rank").len().iter_rows()) == {r: 200 for r in range(WRITERS)}
