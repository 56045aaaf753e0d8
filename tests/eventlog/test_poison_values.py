"""Issue 13: what the encoder or the store cannot take is refused at the call; the writer goes on.

Each case here once wedged a writer for good: it was accepted, every later flush failed, and every
pending event of the process was lost. Now each raises a TypeError/ValueError at the call, and the
events logged before and after it are read back.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import eventlog
from eventlog.core.names import MAX_NAME_BYTES

SURROGATE = os.fsdecode(b"caf\xe9.csv")  # 'caf\udce9.csv' on a UTF-8 file system


@pytest.fixture
def log(local_uri: str) -> Iterator[eventlog.Log]:
    with eventlog.open(local_uri) as opened:
        yield opened


POISON: list[tuple[str, Callable[[eventlog.Experiment], Any], type[Exception], str]] = [
    ("far-future datetime", lambda e: e.log_metric("loss", 0.5, dt=dt.datetime(2300, 1, 1)), ValueError, "1678-2261"),
    ("datetime.max", lambda e: e.log_metric("loss", 0.5, dt=dt.datetime.max), ValueError, "1678-2261"),
    ("float seconds 1e10", lambda e: e.log_metric("loss", 0.5, dt=1e10), ValueError, "1678-2261"),
    ("float seconds 1.8e299 (inf once in ns)", lambda e: e.log_metrics({"a": 1.0}, dt=1.797693134862316e299), ValueError, "1678-2261"),
    ("float seconds -1e300", lambda e: e.log_metric("loss", 0.5, dt=-1e300), ValueError, "1678-2261"),
    ("int ns 2**63", lambda e: e.log_metric("loss", 0.5, dt=2**63), ValueError, "1678-2261"),
    ("NaN seconds", lambda e: e.log_metric("loss", 0.5, dt=float("nan")), TypeError, "dt must be"),
    ("10**400", lambda e: e.log_metric("loss", 10**400), TypeError, "too large for a float64"),
    ("surrogate key", lambda e: e.log_metric(SURROGATE, 1.0), ValueError, "UTF-8"),
    ("surrogate kind", lambda e: e.log_event(SURROGATE, "k", 1.0), ValueError, "UTF-8"),
    ("surrogate param", lambda e: e.log_param("file", SURROGATE), ValueError, "UTF-8"),
    ("surrogate in a list", lambda e: e.log_param("files", [SURROGATE]), ValueError, "UTF-8"),
    ("surrogate tag", lambda e: e.set_tags({"file": SURROGATE}), ValueError, "UTF-8"),
    ("surrogate extra value", lambda e: e.log_metric("loss", 0.5, source=SURROGATE), ValueError, "UTF-8"),
    ("surrogate run extra", lambda e: e.log_extra(source=SURROGATE), ValueError, "UTF-8"),
    ("extra named run", lambda e: e.log_metric("loss", 0.5, run="x"), ValueError, "own columns"),
    ("extra named writer", lambda e: e.log_event("note", "k", "v", writer="x"), ValueError, "own columns"),
    ("run extra named experiment", lambda e: e.log_extra(experiment="x"), ValueError, "own columns"),
    ("extra named extra", lambda e: e.log_param("p", 1, extra="x"), ValueError, "own columns"),
]


@pytest.mark.parametrize(("case", "call", "error", "message"), POISON, ids=[case[0] for case in POISON])
def test_poison_is_refused_at_the_call_and_the_writer_goes_on(
    log: eventlog.Log, case: str, call: Callable[[eventlog.Experiment], Any], error: type[Exception], message: str
) -> None:
    exp = log.experiment("poison")
    other = log.experiment("bystander")
    with exp, other:
        exp.log_metric("before", 1.0)
        other.log_metric("other", 1.0)
        with pytest.raises(error, match=message):
            call(exp)
        exp.log_metric("after", 2.0)
        exp.flush()
        other.log_metric("other", 2.0)
    assert exp.data(event="metric").sort("dt")["key"].to_list() == ["before", "after"]
    assert other.data(event="metric")["value"].to_list() == [1.0, 2.0]
    assert exp.status() == "STOPPED"


def test_a_huge_integer_param_is_kept_exactly_as_json_text(log: eventlog.Log) -> None:
    exp = log.experiment("big")
    with exp:
        exp.log_param("seed", 10**400)
    row = exp.data(event="param").row(0, named=True)
    assert row["value"] is None
    assert row["value_json"] == str(10**400)


def test_the_longest_experiment_name_is_written_and_read(log: eventlog.Log) -> None:
    for name in ("n" * MAX_NAME_BYTES, "实" * 26, "a%20b" * 10):
        exp = log.experiment(name)
        with exp:
            exp.log_metric("loss", 0.5)
        assert exp.data(event="metric")["value"].to_list() == [0.5]
        assert exp.data(event="metric")["experiment"].unique().to_list() == [name]


@pytest.mark.parametrize("name", ["*", "all", "re:.*", "neigh*", "[n]eighbour"])
def test_pattern_names_are_refused_so_a_handle_never_reads_other_experiments(log: eventlog.Log, name: str) -> None:
    with log.experiment("neighbour") as neighbour:
        neighbour.log_metric("secret", 1.0)
    with pytest.raises(eventlog.errors.InvalidNameError, match="pattern"):
        log.experiment(name)


def test_a_job_id_of_dots_is_refused_at_start_with_the_variable_named(local_uri: str) -> None:
    script = f"import eventlog\nwith eventlog.open({local_uri!r}) as log:\n    log.experiment('x').start()\n"
    env = {**os.environ, "EVENTLOG_RUN_ID": ".."}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "EVENTLOG_RUN_ID='..'" in result.stderr
    assert "Traceback" in result.stderr and "InvalidNameError" in result.stderr


def test_per_event_extras_with_distinct_values_register_no_slot_each(log: eventlog.Log) -> None:
    exp = log.experiment("samples")
    with exp:
        exp.log_extra(tag="v1")
        for i in range(20_000):
            exp.log_metric("loss", float(i), step=i, sample_id=str(i))
        slots = len(log.recorder.buffer.registry.slots)
    assert slots < 10  # was one per distinct sample_id, never freed (467 MB against 122 MB at 500k events)
    frame = exp.data(event="metric").sort("step")
    assert frame["sample_id"].to_list()[:3] == ["0", "1", "2"] and frame.height == 20_000
    assert set(frame["tag"].to_list()) == {"v1"}


def test_a_far_future_dt_does_not_keep_a_crashed_run_running(log: eventlog.Log) -> None:
    exp = log.experiment("future")
    exp.start()
    exp.log_metric("loss", 0.5, dt=dt.datetime(2250, 1, 1))  # within the column's range, accepted
    exp.flush()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)  # the process died; nothing since
    assert exp.runs(now=later)["status"].to_list() == ["crashed"]
    assert exp.runs()["status"].to_list() == ["running"]  # its start event is recent
    exp.stop()


def test_a_row_that_slipped_past_the_checks_is_quarantined_and_the_rest_flows(log: eventlog.Log) -> None:
    import json
    import time

    exp = log.experiment("slipped")
    with exp:
        exp.log_metric("good", 1.0, step=0)
        buffer = log.recorder.buffer
        # what no public call can do any more: a string no encoder takes, straight into the buffer
        buffer.generic_rows.append((buffer.slot("slipped", exp.run or 1, "param", "p"), None, SURROGATE, None, time.time_ns()))
        buffer.generic_rows.append((buffer.slot("slipped", exp.run or 1, "note", "n"), None, "ok", None, time.time_ns()))
        buffer.generic_rows.append((buffer.slot("slipped", exp.run or 1, "note", "m"), None, SURROGATE, None, time.time_ns()))
        with pytest.raises(ValueError, match="UTF-8"):  # a bad name never enters the slot registry
            buffer.slot("slipped", exp.run or 1, "metric", SURROGATE)
        exp.log_metric("good", 3.0, step=2)
        with pytest.warns(eventlog.EventsQuarantinedWarning, match=r"2 event\(s\) could not be written"):
            exp.flush()
        exp.log_metric("good", 4.0, step=3)  # the writer goes on
    assert exp.data(event="metric")["value"].to_list() == [1.0, 3.0, 4.0]
    assert exp.data(event="note")["value_json"].to_list() == ["ok"]
    quarantine = buffer.quarantine
    assert quarantine is not None and quarantine.count == 2
    with open(quarantine.path) as f:
        reasons = [json.loads(line)["reason"] for line in f]
    assert all("could not be encoded" in reason for reason in reasons)
