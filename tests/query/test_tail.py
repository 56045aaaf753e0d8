"""`tail`: following an experiment sees the events another process writes while it runs."""

from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
import sys
from typing import Any

import polars as pl
import pytest

import eventlog
import query
from query.filters import RunNotFoundError
from query.snapshot import Snapshot, take_snapshot
from query.tail import Follower, follow, format_event
from testkit import record_calls

from .conftest import T0, Writer

MINUTE = _dt.timedelta(minutes=1)

WRITER = r"""
import sys, eventlog
log = eventlog.open(sys.argv[1], flush_every=60)
exp = log.experiment("live")
with exp:
    for step in range(5):
        exp.log_metric("loss", 1.0 / (step + 1), step=step)
        exp.flush()  # each step lands as its own segment, as from a long-running job
log.close()
"""


def _first_run(uri: str) -> eventlog.Log:
    log = eventlog.open(uri, flush_every=60)
    exp = log.experiment("live")
    with exp:
        exp.log_metric("loss", 9.0, step=0)
        exp.log_param("lr", 0.1)
    return log


def test_follower_returns_history_then_only_new_events(any_uri: str) -> None:
    log = _first_run(any_uri)
    follower = Follower(log.store, "live", event=["metric", "param"])
    history = follower.history(last=10)
    assert history["key"].to_list() == ["loss", "lr"]
    assert follower.poll().height == 0
    exp = log.experiment("live")
    with exp:
        exp.log_metric("loss", 1.5, step=1)
        exp.flush()
        first = follower.poll()
        exp.log_metric("loss", 0.5, step=2)
    second = follower.poll()
    assert first["value"].to_list() == [1.5] and first["run"].to_list() == [2]
    assert second["value"].to_list() == [0.5]
    assert follower.poll().height == 0
    log.close()


def test_a_negative_run_is_the_latest_run_when_following_starts(local_uri: str) -> None:
    log = _first_run(local_uri)
    exp = log.experiment("live")
    with exp:
        exp.log_metric("loss", 2.0, step=0)
    follower = Follower(log.store, "live", run=-1, event="metric")
    assert follower.history(last=5)["run"].to_list() == [2]
    log.close()


def test_starting_to_follow_takes_one_snapshot(local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # the filters and the history each listed the store and read the manifest
    log = _first_run(local_uri)
    taken: list[object] = []

    def counting(*args: Any, **kwargs: Any) -> Snapshot:
        taken.append(args)
        return take_snapshot(*args, **kwargs)

    monkeypatch.setattr(query.tail, "take_snapshot", counting)
    follower = Follower(log.store, "live", run=-1)
    assert follower.history(last=10)["event"].to_list() == ["start", "metric", "param", "stop"]
    assert len(taken) == 1
    assert follower.poll().height == 0 and len(taken) == 2
    log.close()


def test_events_seen_in_another_file_are_not_repeated(local_uri: str) -> None:
    log = _first_run(local_uri)
    follower = Follower(log.store, "live")
    follower.history(last=0)
    # A compacted copy of already-seen events appears as a new file: the (writer, seq) marks drop it.
    seen = log.store.find("seg")
    copy_path = seen[0].path.rsplit("/", 1)[0] + "/99999999999999999999.parquet"
    log.store.create(copy_path, log.store.read(seen[0].path))
    assert follower.poll().height == 0
    log.close()


def test_follow_stops_at_limit_and_timeout(local_uri: str) -> None:
    log = _first_run(local_uri)
    ready: list[bool] = []
    rows = list(follow(log.store, "live", last=1, limit=3, timeout=0.3, interval=0.05, on_ready=lambda: ready.append(True)))
    assert ready == [True]
    assert [r["event"] for r in rows] == ["stop"]  # the history; nothing new came before the timeout
    line = format_event(rows[0])
    assert "live/1" in line and "stop" in line and '"status": "completed"' in line
    log.close()


def test_cli_tail_sees_events_another_process_writes(local_uri: str) -> None:
    _first_run(local_uri).close()
    tail = subprocess.Popen(
        [sys.executable, "-m", "eventlog.cli", "tail", "live", "--store", local_uri, "--lines", "0",
         "--event", "metric", "--limit", "5", "--timeout", "120", "--interval", "0.1", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert tail.stderr is not None
        banner = tail.stderr.readline()  # printed once the existing events were read
        assert banner.startswith("following live"), banner
        writer = subprocess.run([sys.executable, "-c", WRITER, local_uri], capture_output=True, text=True, timeout=120)
        assert writer.returncode == 0, writer.stderr
        out, err = tail.communicate(timeout=120)
    finally:
        if tail.poll() is None:
            tail.kill()
    assert tail.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["value"] for e in events] == [1.0, 1 / 2, 1 / 3, 1 / 4, 1 / 5]
    assert {e["run"] for e in events} == {2} and [e["step"] for e in events] == [0, 1, 2, 3, 4]


def test_cli_tail_prints_the_last_lines_and_exits_with_limit_zero(local_uri: str) -> None:
    _first_run(local_uri).close()
    done = subprocess.run(
        [sys.executable, "-m", "eventlog.cli", "tail", "live", "--lines", "2", "--limit", "0"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "EVENTLOG_URI": local_uri},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2 and "param" in lines[0] and "lr = 0.1" in lines[0] and "stop" in lines[1]


def test_compaction_while_following_repeats_nothing(local_uri: str) -> None:
    from eventlog.compaction.compactor import compact

    log = _first_run(local_uri)
    exp = log.experiment("live")
    with exp:
        exp.log_metric("loss", 3.0, step=0)
    follower = Follower(log.store, "live", event="metric")
    assert follower.history(last=10)["value"].to_list() == [9.0, 3.0]
    report = compact(log.store, "live")
    assert report.files_written == 1  # the snapshot now shows one compacted file instead of the segments
    assert follower.poll().height == 0
    with exp:
        exp.log_metric("loss", 1.0, step=0)
    assert follower.poll()["value"].to_list() == [1.0]
    log.close()


def _tagged(uri: str, write: Writer) -> None:
    """Two experiments (`live`, `lively`), runs 1 and 2, an event a minute, every other one tagged `a`."""
    rows: list[dict[str, object]] = []
    for name in ("live", "lively"):
        for run in (1, 2):
            for i in range(4):
                rows.append({"experiment": name, "run": run, "step": i, "value": float(i), "dt": T0 + (10 * run + i) * MINUTE,
                             "writer": f"{name}-{run}", "extra": {"tag": "a" if i % 2 == 0 else "b"}})
    write(uri, rows)


def _same_rows(follower_frame: pl.DataFrame, expected: pl.DataFrame) -> None:
    key = ["experiment", "run", "step"]
    got = follower_frame.select(key).sort(key).rows()
    assert got == expected.select(key).sort(key).rows() and got


@pytest.mark.parametrize(
    "filters",
    [
        {"tag": "a"},
        {"since": T0 + 11 * MINUTE, "end": T0 + 21 * MINUTE},
        {"run": -1},
        {"run": [1, -1], "tag": "b", "since": T0 + 12 * MINUTE},
    ],
    ids=["extra", "since-end", "negative-run", "combined"],
)
@pytest.mark.parametrize("experiment", ["live", "liv*", "re:^live"])
def test_follower_filters_history_like_data(memory_uri: str, write: Writer, experiment: str, filters: dict[str, Any]) -> None:
    _tagged(memory_uri, write)
    expected = query.data(memory_uri, experiment, **{"run": "*", **filters})
    assert isinstance(expected, pl.DataFrame)
    _same_rows(Follower(memory_uri, experiment, **filters).history(last=100), expected)


def test_follower_filters_new_events_like_data(memory_uri: str, write: Writer) -> None:
    _tagged(memory_uri, write)
    follower = Follower(memory_uri, "live*", run=-1, tag="a", since=T0 + 5 * MINUTE, end=T0 + 30 * MINUTE)
    follower.history(last=0)
    # run 2 is the latest of each experiment when following starts; a new run 3 is not followed
    write(memory_uri, [{"experiment": name, "run": run, "step": 9, "value": 9.0, "dt": T0 + 25 * MINUTE, "writer": f"new-{name}-{run}",
                        "extra": {"tag": tag}} for name in ("live", "lively") for run in (2, 3) for tag in ("a", "b")])
    write(memory_uri, [{"run": 2, "step": 10, "dt": T0 + 31 * MINUTE, "writer": "late", "extra": {"tag": "a"}}])  # after `end`
    new = follower.poll()
    assert new.select("experiment", "run", "step", "tag").sort("experiment").rows() == [("live", 2, 9, "a"), ("lively", 2, 9, "a")]


def test_a_negative_run_follows_only_experiments_known_when_following_starts(memory_uri: str, write: Writer) -> None:
    write(memory_uri, [{"experiment": "live", "run": run, "step": 0, "value": 1.0, "dt": T0 + run * MINUTE, "writer": f"live-{run}"}
                       for run in (1, 2)])
    follower = Follower(memory_uri, "liv*", run=-1)
    assert follower.history(last=100).select("experiment", "run").rows() == [("live", 2)]
    # a later experiment matching the pattern had no latest run when following started: its run 2 is not "run -1"
    write(memory_uri, [{"experiment": name, "run": 2, "step": 1, "value": 2.0, "dt": T0 + 9 * MINUTE, "writer": f"new-{name}"}
                       for name in ("live", "lively")])
    assert follower.poll().select("experiment", "run", "step").rows() == [("live", 2, 1)]


def test_follower_refuses_a_negative_run_past_the_first(memory_uri: str, write: Writer) -> None:
    _tagged(memory_uri, write)
    with pytest.raises(RunNotFoundError, match="run=-5"):
        query.data(memory_uri, "live", run=-5)
    with pytest.raises(RunNotFoundError, match="run=-5"):
        Follower(memory_uri, "live", run=-5)


def test_cli_tail_filters_on_extras_and_since(local_uri: str) -> None:
    log = eventlog.open(local_uri)
    with log.experiment("tagged") as exp:
        exp.log_metric("loss", 1.0, step=0, tag="a")
        exp.log_metric("loss", 2.0, step=1, tag="b")
        exp.log_metric("loss", 3.0, step=2, tag="a")
    log.close()
    base = [sys.executable, "-m", "eventlog.cli", "tail", "tagged", "--store", local_uri, "--lines", "10", "--limit", "0", "--json"]
    done = subprocess.run([*base, "--where", "tag=a"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["value"] for line in done.stdout.splitlines()] == [1.0, 3.0]
    future = subprocess.run([*base, "--since", "2999-01-01"], capture_output=True, text=True, timeout=120)
    assert future.returncode == 0, future.stderr
    assert future.stdout == ""
    bad = subprocess.run([*base, "--where", "tag"], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "write EXTRA=VALUE" in bad.stderr


def test_a_follower_of_one_run_opens_no_other_runs_segments(memory_uri: str, write: Writer, monkeypatch: pytest.MonkeyPatch) -> None:
    write(memory_uri, [{"experiment": "live", "run": 1, "step": 0, "value": 1.0, "writer": "first"}])
    follower = Follower(memory_uri, "live", run=2)
    assert follower.history(last=10).height == 0
    write(memory_uri, [{"experiment": "live", "run": run, "step": 1, "value": 2.0, "writer": f"w{run}"} for run in (2, 3, 4)])
    read = record_calls(monkeypatch, "read", follower.store)
    assert follower.poll().select("run", "step").rows() == [(2, 1)]
    assert read == [p for p in read if p.endswith(".runs-2-2.parquet")] and len(read) == 1
    assert follower.poll().height == 0  # the other runs' segments count as seen: never opened later either
    assert len(read) == 1
