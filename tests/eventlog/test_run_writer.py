"""`Experiment` hands every write to its run's `ingest.run_writer.RunWriter`: what users see of that."""

from __future__ import annotations

import pydoc

import pytest

import eventlog
from eventlog.errors import NoActiveRunError
from ingest.run_writer import RunWriter


def test_help_of_log_metric_shows_its_documentation_with_and_without_a_run(local_uri: str) -> None:
    with eventlog.open(local_uri) as log:
        exp = log.experiment("docs")
        before = pydoc.render_doc(exp.log_metric, renderer=pydoc.plaintext)
        with exp:
            during = pydoc.render_doc(exp.log_metric, renderer=pydoc.plaintext)
        for text in (before, during):
            assert "Log a numeric metric" in text and "NoActiveRunError" in text
        assert "log_metric(key" in during and "**extra" in during


def test_each_run_gets_its_own_writer_and_a_stopped_run_has_none(local_uri: str) -> None:
    with eventlog.open(local_uri) as log:
        exp = log.experiment("writers")
        with exp:
            first = exp._writer
            assert isinstance(first, RunWriter) and first.run == 1
        assert exp._writer is None
        with exp:
            assert exp._writer is not first and exp._writer is not None and exp._writer.run == 2
        with pytest.raises(NoActiveRunError, match="run 2 was stopped"):
            exp.log_metric("loss", 1.0)


def test_a_held_log_metric_of_a_stopped_run_logs_into_the_current_run(local_uri: str) -> None:
    with eventlog.open(local_uri) as log:
        exp = log.experiment("held")
        with exp:
            held = exp.log_metric
            held("loss", 1.0, step=0)
        with pytest.raises(NoActiveRunError):
            held("loss", 2.0, step=1)  # between runs: nothing to log into
        with exp:
            held("loss", 3.0, step=2)  # the closure of run 1, now retired
            exp.flush()
        frame = exp.data(run="*", event="metric").sort("step")
    assert frame.select("run", "step", "value").rows() == [(1, 0, 1.0), (2, 2, 3.0)]


def test_a_held_log_metrics_of_a_stopped_run_logs_into_the_current_run(local_uri: str) -> None:
    with eventlog.open(local_uri) as log:
        exp = log.experiment("held_many")
        with exp:
            held = exp.log_metrics
            held({"loss": 1.0, "acc": 0.1}, step=0)
            held({"loss": 1.5, "acc": 0.2}, step=1)  # the same keys again: the closure's fast path
        with pytest.raises(NoActiveRunError):
            held({"loss": 2.0, "acc": 0.3}, step=2)  # between runs: nothing to log into
        with exp:
            held({"loss": 3.0, "acc": 0.4}, step=3)  # the closure of run 1, now retired
            exp.flush()
        frame = exp.data(run="*", event="metric", key="loss").sort("step")
    assert frame.select("run", "step", "value").rows() == [(1, 0, 1.0), (1, 1, 1.5), (2, 3, 3.0)]


def test_extras_set_during_a_run_reach_the_fast_path(local_uri: str) -> None:
    with eventlog.open(local_uri) as log:
        exp = log.experiment("extras")
        with exp:
            exp.log_metric("loss", 1.0, step=0)  # registers the key on the fast path
            exp.log_extra(tag="b")
            exp.log_metric("loss", 2.0, step=1)
            exp.log_metrics({"acc": 0.5}, step=1)
            exp.log_metrics({"acc": 0.6}, step=2)  # the keyset's fast path, after the extras
            exp.flush()
            frame = exp.data(event="metric").sort("key", "step")
    assert frame.select("key", "step", "tag").rows() == [("acc", 1, "b"), ("acc", 2, "b"), ("loss", 0, None), ("loss", 1, "b")]
