"""`runs()` and `last_values()`: one row per run, folded from its events."""

from __future__ import annotations

import datetime as _dt
import json

import polars as pl
import pytest

import eventlog
import query
from query.runs import RUN_COLUMNS

from .conftest import T0, Writer

#: Every test runs with both plans (see the `plan` fixture in conftest.py).
pytestmark = pytest.mark.usefixtures("plan")


S = _dt.timedelta(seconds=1)
NOW = T0 + 3600 * S


def _stop(status: str, at: _dt.datetime, **more: object) -> dict[str, object]:
    return {"event": "stop", "key": "run", "value_json": json.dumps({"status": status, **more}), "dt": at}


def _archive(uri: str, write: Writer) -> None:
    rows: list[dict[str, object]] = []
    for run in (1, 2, 3, 4, 5):
        start = T0 + run * 100 * S
        rows += [
            {"run": run, "event": "start", "key": "run", "value_json": "{}", "dt": start, "node": f"n{run}", "userid": "bob"},
            {"run": run, "event": "param", "key": "lr", "value": 0.1 * run, "dt": start + S},
            {"run": run, "event": "param", "key": "opt", "value_json": '"adam"', "dt": start + S},
            {"run": run, "step": 1, "key": "loss", "value": 1.0 / run, "dt": start + 2 * S},
            {"run": run, "step": 2, "key": "loss", "value": 0.5 / run, "dt": start + 3 * S},
        ]
    rows.append(_stop("completed", T0 + 110 * S, duration_s=10))
    rows[-1]["run"] = 1
    rows.append({**_stop("failed", T0 + 220 * S, error="ValueError: boom"), "run": 2})
    rows.append({**_stop("preempted", T0 + 330 * S), "run": 3, "extra": {"tag": "late"}})
    # run 4: no stop, a heartbeat 30 s before NOW: running; run 5: silent for an hour: crashed
    rows.append({"run": 4, "event": "system", "key": "heartbeat", "dt": NOW - 30 * S, "extra": {"tag": "hb"}})
    # run 1 was resumed from a checkpoint: step 2 logged again later, and an older step logged last
    rows.append({"run": 1, "step": 2, "key": "loss", "value": 0.25, "dt": T0 + 105 * S, "writer": "w-resumed"})
    rows.append({"run": 1, "step": 1, "key": "loss", "value": 9.0, "dt": T0 + 106 * S, "writer": "w-resumed"})
    write(uri, rows)


def test_status_times_params_metrics_and_extras(any_uri: str, write: Writer) -> None:
    _archive(any_uri, write)
    table = query.runs(any_uri, "exp", now=NOW)
    assert table.columns == [*RUN_COLUMNS, "param.lr", "param.opt", "metric.loss", "tag"]
    assert table["run"].to_list() == [1, 2, 3, 4, 5]
    assert table["status"].to_list() == ["completed", "failed", "preempted", "running", "crashed"]
    assert table["error"].to_list() == [None, "ValueError: boom", None, None, None]
    assert table["start"][0] == T0 + 100 * S and table["end"][0] == T0 + 110 * S
    assert table["duration_s"].to_list() == pytest.approx([10.0, 20.0, 30.0, 3600 - 30 - 400, 3.0])
    assert table["node"].to_list() == ["n1", "n2", "n3", "n4", "n5"]
    assert table["param.lr"].to_list() == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    assert table["param.opt"].to_list() == ["adam"] * 5
    # "last" is by (step, dt, seq): the re-logged step 2 of run 1 wins over the older step 1 logged after it
    assert table["metric.loss"].to_list() == pytest.approx([0.25, 0.25, 0.5 / 3, 0.125, 0.1])
    assert table["tag"].to_list() == [None, None, "late", "hb", None]


def test_last_values(local_uri: str, write: Writer) -> None:
    _archive(local_uri, write)
    last = query.last_values(local_uri, "exp", run=1)
    assert last.select("key", "value", "step").rows() == [("loss", 0.25, 2)]
    params = query.last_values(local_uri, "exp", event="param", key="lr", run=[1, 2])
    assert params["value"].to_list() == pytest.approx([0.1, 0.2])


def test_filters_and_empty_results(local_uri: str, write: Writer) -> None:
    _archive(local_uri, write)
    assert query.runs(local_uri, "exp", run=[2, 3], now=NOW)["status"].to_list() == ["failed", "preempted"]
    assert query.runs(local_uri, "exp", run=-1, now=NOW)["run"].to_list() == [5]
    empty = query.runs(local_uri, "nothing")
    assert empty.height == 0 and empty.columns == RUN_COLUMNS


def test_runs_of_the_logger(local_uri: str) -> None:
    log = eventlog.open(local_uri)
    exp = log.experiment("real")
    with exp:
        exp.log_params({"lr": 0.01, "layers": [64, 32]})
        exp.log_metric("acc", 0.5, step=1)
        exp.log_metric("acc", 0.75, step=2)
    with pytest.raises(RuntimeError), exp:
        exp.log_metric("acc", 0.1, step=1)
        raise RuntimeError("out of memory")
    log.close()
    table = query.runs(local_uri, "real")
    assert table["status"].to_list() == ["completed", "failed"]
    assert table["error"].to_list() == [None, "RuntimeError: out of memory"]
    assert table["metric.acc"].to_list() == [0.75, 0.1]
    assert table["param.layers"].to_list() == ["[64, 32]", None]
    assert table.schema["param.lr"] == pl.Float64
    assert (table["duration_s"] >= 0).all()


def test_last_breaks_ties_by_seq_and_puts_null_steps_first(local_uri: str, write: Writer) -> None:
    write(
        local_uri,
        [
            {"key": "tie", "step": 3, "value": 1.0, "dt": T0, "seq": 100},
            {"key": "tie", "step": 3, "value": 2.0, "dt": T0, "seq": 101},
            {"key": "tie", "step": 2, "value": 3.0, "dt": T0 + S, "seq": 102},
            {"key": "nostep", "value": 4.0, "dt": T0 + 2 * S, "seq": 103},
            {"key": "nostep", "value": 5.0, "dt": T0 + S, "seq": 104},
            {"key": "mixed", "value": 6.0, "dt": T0 + 9 * S, "seq": 105},
            {"key": "mixed", "step": 0, "value": 7.0, "dt": T0, "seq": 106},
        ],
    )
    last = query.last_values(local_uri, "exp")
    assert dict(last.select("key", "value").iter_rows()) == {"tie": 2.0, "nostep": 4.0, "mixed": 7.0}
