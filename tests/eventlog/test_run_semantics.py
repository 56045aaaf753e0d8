"""Runs keep the seed's word (issue 14): use() then `with` continues the run, params do not change
within a run, and data() on a handle got from the store shows the latest run, as in omega-ml."""

from __future__ import annotations

import polars as pl
import pytest

import eventlog


def test_with_on_a_handle_that_use_reopened_continues_that_run(local_uri: str) -> None:
    # Regression: `with exp.use(1):` silently started run 3.
    with eventlog.open(local_uri) as log:
        exp = log.experiment("resume")
        for _ in range(2):
            with exp:
                exp.log_metric("loss", 1.0, step=0)
        with exp.use(1):
            exp.log_metric("loss", 0.5, step=1)
        assert exp.run == 1
        runs = exp.runs()
        with exp:  # a plain `with` afterwards starts a new run again
            pass
        assert exp.run == 3
    assert runs["run"].to_list() == [1, 2] and runs["status"].to_list() == ["completed", "completed"]
    assert query_steps(local_uri, "resume", 1) == [0, 1]


def query_steps(uri: str, experiment: str, run: int) -> list[int]:
    import query

    return query.data(uri, experiment, run=run, event="metric")["step"].to_list()


def test_a_param_logged_again_is_a_no_op_with_the_same_value_and_an_error_with_another(local_uri: str) -> None:
    with eventlog.open(local_uri) as log:
        exp = log.experiment("params")
        with exp:
            exp.log_param("lr", 0.1)
            exp.log_params({"lr": 0.1, "model": "mlp"})  # the same value: nothing new is logged
            with pytest.raises(ValueError, match=r"param 'lr' of run 1 .* is already 0\.1; params do not change"):
                exp.log_param("lr", 0.2)
            exp.log_param("nan", float("nan"))
            exp.log_param("nan", float("nan"))
            exp.flush()
            params = exp.data(event="param").sort("key")
        with exp:  # a new run may use a new value
            exp.log_param("lr", 0.2)
    assert params.select("key", "value").rows()[:1] == [("lr", 0.1)]
    assert params["key"].to_list() == ["lr", "model", "nan"]


def test_data_on_a_handle_from_the_store_shows_the_latest_run(local_uri: str) -> None:
    with eventlog.open(local_uri) as log:
        exp = log.experiment("latest")
        for run in range(3):
            with exp:
                exp.log_metric("acc", float(run), step=0)
    with eventlog.open(local_uri) as reader:
        fresh = reader.experiment("latest")
        assert fresh.run is None
        assert set(fresh.data()["run"].to_list()) == {3}
        assert fresh.data(event="metric")["value"].to_list() == [2.0]
        assert sorted(set(fresh.data(run="*")["run"].to_list())) == [1, 2, 3]
        assert reader.experiment("nothing-yet").data().height == 0


def test_a_finished_run_can_be_tagged_and_named_and_runs_shows_it(local_uri: str) -> None:
    # Regression (issue 14): set_tags needed an active run, and runs() showed no tags at all.
    with eventlog.open(local_uri) as log:
        exp = log.experiment("tagged")
        for _ in range(2):
            with exp:
                exp.log_metric("acc", 0.5)
        exp.set_tags({"reviewed": True, "team": "vision"}, run=1)
        exp.set_name("baseline", run=1)
        exp.set_tags({"team": "nlp"}, run=1)  # append-only: the latest value wins
        with pytest.raises(eventlog.NoActiveRunError):
            exp.set_tags({"team": "x"})  # no run given and none active
        with pytest.raises(ValueError, match="positive int"):
            exp.set_name("x", run=0)
        exp.flush()
        table = exp.runs().sort("run")
        named = exp.runs(name="baseline")
    assert table.select("run", "status", "tag.name", "tag.reviewed", "tag.team").rows() == [
        (1, "completed", "baseline", "true", "nlp"),
        (2, "completed", None, None, None),
    ]
    assert named["run"].to_list() == [1]


def test_whole_number_params_stay_integers(local_uri: str) -> None:
    # Regression (issue 14): runs() showed param.layers as 100.0, and data() held no trace of the int.
    import numpy as np

    with eventlog.open(local_uri) as log:
        exp = log.experiment("ints")
        for layers, lr in ((100, 0.1), (np.int64(7), 1)):
            with exp:
                exp.log_params({"layers": layers, "lr": lr, "flag": True})
        table = exp.runs().sort("run")
        params = exp.data(run=1, event="param").sort("key")
    assert table.schema["param.layers"] == pl.Int64 and table["param.layers"].to_list() == [100, 7]
    assert table.schema["param.lr"] == pl.Float64 and table["param.lr"].to_list() == [0.1, 1.0]  # 0.1 and 1: a float column
    assert params.select("key", "value", "value_json").rows() == [("flag", None, "true"), ("layers", 100.0, "100"), ("lr", 0.1, None)]
