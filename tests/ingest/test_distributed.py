"""Ranks of one distributed job share one run without coordination; each rank is its own writer.

16 processes log as ranks of one job into a moto S3 store (the claim race itself is only
check-then-act on moto; the real race runs against Ceph RGW in tests/integration/).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import eventlog
import query
from eventlog import log as log_module

RANK_CHILD = textwrap.dedent(
    """
    import os, sys
    import eventlog

    rank = int(os.environ.get("RANK") or os.environ["SLURM_PROCID"])
    log = eventlog.open(sys.argv[1], flush_every=3600)
    with log.experiment("ddp") as exp:
        for i in range(100 + rank):
            exp.log_metric("loss", float(i), step=i)
    print(exp.run, log.identity.writer, flush=True)
    """
)


def launch(uri: str, env: dict[str, str], spool: Path) -> subprocess.Popen[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("RANK", "SLURM_PROCID", "EVENTLOG_RUN_ID", "SLURM_JOB_ID")}
    full.update(env, EVENTLOG_SPOOL_DIR=str(spool))
    return subprocess.Popen([sys.executable, "-c", RANK_CHILD, uri], env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.s3
@pytest.mark.slow
def test_16_ranks_of_one_job_share_one_run_with_exact_counts_per_rank(s3_uri: str, tmp_path: Path) -> None:
    procs = [launch(s3_uri, {"EVENTLOG_RUN_ID": "job-42", "RANK": str(r)}, tmp_path) for r in range(16)]
    # A second job, launched by SLURM, started at the same time: its own run.
    procs += [launch(s3_uri, {"SLURM_JOB_ID": "9001", "SLURM_PROCID": str(r)}, tmp_path) for r in range(2)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-3000:]
        run, writer = out.split()
        results.append((int(run), writer))
    job_runs = {run for run, _ in results[:16]}
    slurm_runs = {run for run, _ in results[16:]}
    assert len(job_runs) == 1 and len(slurm_runs) == 1 and job_runs != slurm_runs
    assert len({writer for _, writer in results}) == 18  # each rank is its own writer

    (job_run,) = job_runs
    events = query.data(s3_uri, experiment="ddp", run=job_run)
    metrics = events.filter(events["event"] == "metric")
    per_rank = dict(metrics.group_by("rank").len().iter_rows())
    assert per_rank == {r: 100 + r for r in range(16)}
    assert events.filter(events["event"] == "start").height == 16
    assert events.filter(events["event"] == "stop").height == 16
    runs = query.runs(s3_uri, "ddp")
    assert sorted(runs["run"].to_list()) == sorted([job_run, *slurm_runs])
    assert set(runs["status"].to_list()) == {"completed"}


def test_heartbeats_tell_a_running_run_from_a_crashed_one(local_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTLOG_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setattr(log_module, "HEARTBEAT_SECONDS", 0.0)  # a heartbeat on every flusher cycle
    log = eventlog.open(local_uri, flush_every=3600)
    exp = log.experiment("hb")
    exp.start()
    exp.flush()
    exp.flush()
    beats = query.data(local_uri, experiment="hb", run="*", event="system", key="heartbeat")
    assert beats.height >= 1
    assert query.runs(local_uri, "hb")["status"].to_list() == ["running"]
    runs_module = importlib.import_module("query.runs")  # the module (`query.runs` is also the function)
    monkeypatch.setattr(runs_module, "CRASH_AFTER_SECONDS", -1.0)  # as if the heartbeats had stopped long ago
    assert query.runs(local_uri, "hb")["status"].to_list() == ["crashed"]
    exp.stop()
    assert query.runs(local_uri, "hb")["status"].to_list() == ["completed"]
    log.close()
