"""`flush_on_stop`: a sweep of short runs may leave stopped runs to the periodic flush (issue 18 §3).

By default `stop()` flushes, so a stopped run is in the store when it returns. With
`flush_on_stop=False` completed runs wait for the next flush and share its segments; a failed run is
flushed at once; exit flushes the rest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import eventlog
import query
from eventlog.core.layout import SEGMENTS
from ingest.recorder import FlushPolicy
from tests.support.testkit import record_calls


def segment_files(uri: str) -> list[Path]:
    return sorted(Path(uri, SEGMENTS).rglob("*.parquet"))


def log_short_runs(exp: eventlog.Experiment, runs: int) -> None:
    for _ in range(runs):
        exp.start()
        for step in range(5):
            exp.log_metric("loss", 1.0 / (step + 1), step=step)
        exp.stop()


def test_by_default_a_stopped_run_is_in_the_store_when_stop_returns(local_uri: str) -> None:
    with eventlog.open(local_uri, flush_every=3600) as log:
        exp = log.experiment("sweep")
        log_short_runs(exp, 3)
        assert len(segment_files(local_uri)) == 3  # one per stop
        runs = query.runs(local_uri, "sweep")
        assert runs["status"].to_list() == ["completed"] * 3


def test_without_flush_on_stop_stopped_runs_share_the_next_flush(local_uri: str) -> None:
    with eventlog.open(local_uri, flush_every=3600, flush_on_stop=False) as log:
        exp = log.experiment("sweep")
        log_short_runs(exp, 50)
        assert segment_files(local_uri) == []  # nothing written yet: the runs wait for the flush
        log.flush()
        assert len(segment_files(local_uri)) == 1
        runs = query.runs(local_uri, "sweep")
        assert runs["run"].to_list() == list(range(1, 51))
        assert runs["status"].to_list() == ["completed"] * 50
        per_run = query.data(local_uri, "sweep", event="metric")["run"].value_counts()
        assert sorted(per_run["count"].to_list()) == [5] * 50


def test_without_flush_on_stop_the_logs_own_reads_see_the_stopped_runs(local_uri: str) -> None:
    with eventlog.open(local_uri, flush_every=3600, flush_on_stop=False) as log:
        exp = log.experiment("sweep")
        log_short_runs(exp, 3)
        assert segment_files(local_uri) == []  # other readers see nothing yet,
        assert exp.runs()["status"].to_list() == ["completed"] * 3  # the log's own reads flush first
        assert exp.status(2) == "STOPPED"
        assert log.experiments() == ["sweep"]
        log_short_runs(exp, 1)
        assert exp.data(run=4, event="metric").height == 5
        assert exp.summary(key="loss")["count"].to_list() == [20]


def test_without_flush_on_stop_runs_cost_no_fsync_until_the_flush(local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with eventlog.open(local_uri, flush_every=3600, flush_on_stop=False) as log:
        exp = log.experiment("sweep")
        log_short_runs(exp, 1)  # the first claim probes the store,
        log.flush()  # and the first flush makes the segments' directories
        synced = record_calls(monkeypatch, "fsync", os)
        log_short_runs(exp, 20)
        assert synced == []  # claims and stops alike wait for the flush
        log.flush()
        assert len(synced) == 3, synced  # the claims' directory once, the segment's content and directory
        assert query.runs(local_uri, "sweep").height == 21


def test_without_flush_on_stop_a_failed_run_is_flushed_at_once(local_uri: str) -> None:
    with eventlog.open(local_uri, flush_every=3600, flush_on_stop=False) as log:
        exp = log.experiment("sweep")
        log_short_runs(exp, 2)
        with pytest.raises(RuntimeError, match="diverged"), exp:
            exp.log_metric("loss", float("nan"), step=0)
            raise RuntimeError("diverged")
        runs = query.runs(local_uri, "sweep")  # before close: the failure flushed the two runs before it too
        assert runs["status"].to_list() == ["completed", "completed", "failed"]
        exp.start()
        exp.stop(status="failed")  # a failed status given by hand flushes as well
        assert query.runs(local_uri, "sweep")["status"].to_list()[-1] == "failed"


def test_without_flush_on_stop_exit_flushes_the_stopped_runs(local_uri: str) -> None:
    script = (
        "import sys, eventlog\n"
        "log = eventlog.open(sys.argv[1], flush_every=3600, flush_on_stop=False)\n"
        "exp = log.experiment('sweep')\n"
        "for _ in range(20):\n"
        "    exp.start(); exp.log_metric('loss', 0.5, step=0); exp.stop()\n"
    )  # no close(): the interpreter's exit flushes
    env = {**os.environ, "EVENTLOG_SPOOL_DIR": str(Path(local_uri).parent / "spool")}
    subprocess.run([sys.executable, "-c", script, local_uri], check=True, timeout=120, env=env)
    runs = query.runs(local_uri, "sweep")
    assert runs["run"].to_list() == list(range(1, 21))
    assert runs["status"].to_list() == ["completed"] * 20
    assert len(segment_files(local_uri)) == 1


def test_flush_on_stop_must_be_a_bool() -> None:
    with pytest.raises(ValueError, match="flush_on_stop must be True or False, got 'no'"):
        FlushPolicy(flush_on_stop="no")  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["0", "false", " No ", "OFF"])
def test_the_environment_turns_it_off_for_code_that_opens_its_own_log(local_uri: str, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("EVENTLOG_FLUSH_ON_STOP", value)
    with eventlog.open(local_uri, flush_every=3600) as log:
        assert log.policy.flush_on_stop is False
        log_short_runs(log.experiment("sweep"), 4)
        assert segment_files(local_uri) == []
    assert len(segment_files(local_uri)) == 1 and query.runs(local_uri, "sweep").height == 4


def test_an_explicit_argument_wins_over_the_environment(local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTLOG_FLUSH_ON_STOP", "0")
    with eventlog.open(local_uri, flush_every=3600, flush_on_stop=True) as log:
        log_short_runs(log.experiment("sweep"), 2)
        assert len(segment_files(local_uri)) == 2
    monkeypatch.setenv("EVENTLOG_FLUSH_ON_STOP", "yes")
    with eventlog.open(local_uri, flush_every=3600) as log:
        assert log.policy.flush_on_stop is True


def test_a_malformed_environment_value_is_refused_at_open(local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTLOG_FLUSH_ON_STOP", "sometimes")
    with pytest.raises(ValueError, match=r"\$EVENTLOG_FLUSH_ON_STOP='sometimes': expected 1/true/yes/on or 0/false/no/off"):
        eventlog.open(local_uri)
