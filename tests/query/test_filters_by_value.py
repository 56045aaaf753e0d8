"""Filters on params and extras compare as users mean them (issue 14): numbers as numbers,
strings as strings, and an unknown name is the same clear error in runs(), data() and summary()."""

from __future__ import annotations

import pytest

import eventlog
import query
from eventlog import InvalidFilterError


@pytest.fixture
def sweep(local_uri: str) -> str:
    """Three runs: lr 0.1 (tag a), lr 0.01 (tag b), lr 0.1 (tag b), each logging loss at steps 0 and 1."""
    with eventlog.open(local_uri) as log:
        exp = log.experiment("sweep")
        for lr, tag in ((0.1, "a"), (0.01, "b"), (0.1, "b")):
            with exp:
                exp.log_extra(tag=tag, lr=lr)
                exp.log_params({"lr": lr, "optimizer": "adam" if tag == "a" else "sgd", "layers": 3})
                for step in range(2):
                    exp.log_metric("loss", lr * (step + 1), step=step)
    return local_uri


def test_runs_by_a_numeric_param_a_string_param_and_an_extra(sweep: str) -> None:
    # Regression: runs(lr=0.1) crashed with polars' "cannot compare string with numeric type".
    assert query.runs(sweep, "sweep", lr=0.1)["run"].to_list() == [1, 3]
    assert query.runs(sweep, "sweep", lr=[0.01])["run"].to_list() == [2]
    assert query.runs(sweep, "sweep", optimizer="sgd")["run"].to_list() == [2, 3]
    assert query.runs(sweep, "sweep", tag="b", lr=0.1)["run"].to_list() == [3]
    assert query.runs(sweep, "sweep", layers=3)["run"].to_list() == [1, 2, 3]
    assert query.runs(sweep, "sweep", status="completed", run=-1)["run"].to_list() == [3]


def test_data_and_summary_by_a_numeric_extra(sweep: str) -> None:
    # Regression: data(run="*", lr=0.1) and summary(lr=0.1) crashed the same way (lr is an extra here).
    frame = query.data(sweep, "sweep", run="*", event="metric", lr=0.1)
    assert sorted(set(frame["run"].to_list())) == [1, 3] and frame.height == 4
    stats = query.summary(sweep, "sweep", lr=0.1, key="loss", by_run=True)
    assert stats.select("run", "count").rows() == [(1, 2), (3, 2)]
    assert query.data(sweep, "sweep", run="*", event="metric", lr=[0.01, "0.1"]).height == 6


@pytest.mark.parametrize("reader", ["runs", "data", "summary"])
def test_an_unknown_filter_is_the_same_clear_error_everywhere(sweep: str, reader: str) -> None:
    # Regression: runs(nosuch="x") quietly returned nothing while data() raised.
    call = {
        "runs": lambda: query.runs(sweep, "sweep", nosuch="x"),
        "data": lambda: query.data(sweep, "sweep", run="*", nosuch="x"),
        "summary": lambda: query.summary(sweep, "sweep", nosuch="x"),
    }[reader]
    with pytest.raises(InvalidFilterError, match="unknown filter 'nosuch'"):
        call()
    with eventlog.open(sweep) as log:  # the facade says the same
        exp = log.experiment("sweep")
        with pytest.raises(InvalidFilterError, match="unknown filter 'nosuch'"):
            getattr(exp, reader)(**({"run": "*"} if reader == "data" else {}), nosuch="x")
