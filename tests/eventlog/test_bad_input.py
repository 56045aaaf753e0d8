"""Bad input gets a clear error naming the problem, and never loses events logged before or after it."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl
import pytest

import eventlog
from eventlog.errors import InvalidNameError, NoActiveRunError


@pytest.fixture
def log(local_uri: str) -> Iterator[eventlog.Log]:
    with eventlog.open(local_uri) as opened:  # closed after the test: no flusher thread left running until exit
        yield opened


def test_non_numeric_metric_is_a_type_error_and_neighbours_survive(log: eventlog.Log) -> None:
    exp = log.experiment("bad")
    with exp:
        exp.log_metric("ok", 1.0)
        with pytest.raises(TypeError, match=r"metric 'loss': value must be a number.*got str"):
            exp.log_metric("loss", "0.5")
        with pytest.raises(TypeError, match="got NoneType"):
            exp.log_metric("loss", None)
        with pytest.raises(TypeError, match="array of shape"):
            import numpy as np

            exp.log_metric("vec", np.array([1.0, 2.0]))
        exp.log_metric("ok", 2.0)
    assert exp.data(event="metric")["value"].to_list() == [1.0, 2.0]


def test_log_metrics_keeps_the_valid_values_of_a_bad_mapping(log: eventlog.Log) -> None:
    exp = log.experiment("bad-mapping")
    with exp:
        exp.log_metrics({"a": 1.0, "b": 2.0}, step=0)
        with pytest.raises(TypeError, match="metric 'bad'"):
            exp.log_metrics({"a": 3.0, "bad": "x", "c": 4.0}, step=1)
        exp.log_metrics({"a": 5.0, "b": 6.0}, step=2)
    rows = exp.data(event="metric").sort("step", "key").select("step", "key", "value").rows()
    assert rows == [(0, "a", 1.0), (0, "b", 2.0), (1, "a", 3.0), (1, "c", 4.0), (2, "a", 5.0), (2, "b", 6.0)]


def test_log_metrics_fast_path_checks_every_value_of_a_known_key_set(log: eventlog.Log) -> None:
    import numpy as np

    exp = log.experiment("known-keys")
    with exp:
        exp.log_metrics({"a": 1.0, "b": 2.0}, step=0)  # registers the key set: later calls take the fast path
        exp.log_metrics({"a": np.float32(1.5), "b": 3}, step=1)  # numpy scalars and ints are numbers
        with pytest.raises(TypeError, match="metric 'a'"):
            exp.log_metrics({"a": "x", "b": 4.0}, step=2)
        with pytest.raises(TypeError, match="metric 'b'"):
            exp.log_metrics({"a": 5.0, "b": np.array([1.0, 2.0])}, step=3)
        exp.log_metrics({"a": float("nan"), "b": float("inf")}, step=4)  # kept, not rejected
    rows = exp.data(event="metric").sort("step", "key").select("step", "key", "value").rows()
    assert rows[:6] == [(0, "a", 1.0), (0, "b", 2.0), (1, "a", 1.5), (1, "b", 3.0), (2, "b", 4.0), (3, "a", 5.0)]
    assert np.isnan(rows[6][2]) and rows[6][:2] == (4, "a") and rows[7] == (4, "b", float("inf"))


def test_bad_steps_and_keys(log: eventlog.Log) -> None:
    exp = log.experiment("steps")
    with exp:
        with pytest.raises(TypeError, match="step must be an int"):
            exp.log_metric("x", 1.0, step="3")
        with pytest.raises(TypeError, match="step must be an int"):
            exp.log_metric("x", 1.0, step=1.5)
        with pytest.raises(InvalidNameError, match="must not be empty"):
            exp.log_metric("", 1.0)
        with pytest.raises(InvalidNameError, match="control character"):
            exp.log_metric("a\nb", 1.0)
        with pytest.raises(TypeError, match="key must be a str, got list"):
            exp.log_metric(["x"], 1.0)  # unhashable: the fast path's lookup must not be the one to fail
        exp.log_metric("x", 1.0, step=2.0)
    assert exp.data(event="metric")["step"].to_list() == [2]


def test_logging_before_a_run_is_started_says_what_to_do(log: eventlog.Log) -> None:
    exp = log.experiment("not-started")
    with pytest.raises(NoActiveRunError, match=r"has no started run.*exp.start\(\)"):
        exp.log_metric("x", 1.0)
    with pytest.raises(NoActiveRunError):
        exp.log_metrics({"x": 1.0})
    with exp:
        exp.log_metric("x", 2.0)
    with pytest.raises(NoActiveRunError, match="run 1 was stopped"):
        exp.log_metric("x", 3.0)
    assert exp.data(event="metric")["value"].to_list() == [2.0]


def test_stale_bound_log_metric_follows_the_current_run(log: eventlog.Log) -> None:
    exp = log.experiment("stale")
    with exp:
        bound = exp.log_metric
        bound("x", 1.0)
    with exp:
        bound("x", 2.0)  # a reference kept from run 1 logs into the current run
    frame = exp.data(run="*", event="metric").sort("run")
    assert frame.select("run", "value").rows() == [(1, 1.0), (2, 2.0)]


def test_invalid_experiment_name_and_unjsonable_values(log: eventlog.Log) -> None:
    with pytest.raises(InvalidNameError, match="path separator"):
        log.experiment("a/b")
    exp = log.experiment("json")
    with exp:
        with pytest.raises(TypeError, match="neither a number nor JSON-encodable"):
            exp.log_param("model", object())
        exp.log_param("fine", {"a": [1, 2]})
    assert exp.data(event="param")["key"].to_list() == ["fine"]


def test_clear_refuses_without_force_and_deletes_with_it(log: eventlog.Log) -> None:
    exp = log.experiment("to-clear")
    with exp:
        exp.log_metric("x", 1.0)
    with pytest.raises(ValueError, match="force=True"):
        exp.clear()
    assert exp.data().height > 0
    assert exp.clear(force=True) >= 2
    assert exp.data(run="*").height == 0
    assert isinstance(exp.data(run="*"), pl.DataFrame)
