"""Log the way omega-ml users do and read it back, on local disk, memory:// and S3 (moto)."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import polars as pl
import pytest

import eventlog


def test_log_and_read_back_a_run(any_uri: str) -> None:
    log = eventlog.open(any_uri, flush_every=60)
    exp = log.experiment("iris")
    with exp:
        exp.log_param("lr", 0.1)
        exp.log_params({"layers": [64, 32], "optimizer": "adam"})
        for step in range(10):
            exp.log_metric("loss", 1.0 / (step + 1), step=step)
        exp.log_metrics({"train/acc": 0.9, "val/acc": 0.8}, step=10)
        exp.log_event("custom", "note", {"text": "hello"})
    assert exp.run == 1
    frame = exp.data()
    assert frame.columns[:11] == ["experiment", "run", "step", "event", "key", "value", "value_json", "dt", "node", "userid", "rank"]
    assert frame["dt"].is_sorted()
    assert frame["event"].to_list()[0] == "start" and frame["event"].to_list()[-1] == "stop"
    losses = frame.filter(pl.col("key") == "loss")
    assert losses["value"].to_list() == [1.0 / (s + 1) for s in range(10)]
    assert losses["step"].to_list() == list(range(10))
    params = frame.filter(pl.col("event") == "param").sort("key")
    assert params["key"].to_list() == ["layers", "lr", "optimizer"]
    assert json.loads(params["value_json"][0]) == [64, 32] and params["value"][1] == 0.1
    assert json.loads(frame.filter(pl.col("event") == "custom")["value_json"][0]) == {"text": "hello"}
    stop = json.loads(frame.filter(pl.col("event") == "stop")["value_json"][0])
    assert stop["status"] == "completed"
    assert exp.status() == "STOPPED"
    log.close()


def test_each_with_block_is_a_new_run_and_data_defaults_to_the_current_one(local_uri: str) -> None:
    log = eventlog.open(local_uri)
    exp = log.experiment("runs")
    for i in range(3):
        with exp:
            exp.log_metric("x", float(i))
    assert exp.run == 3
    assert exp.data(key="x")["value"].to_list() == [2.0]
    assert exp.data(run="*", key="x").sort("run")["value"].to_list() == [0.0, 1.0, 2.0]
    assert exp.data(run=[1, 3], key="x")["run"].to_list() == [1, 3]
    assert exp.data(run=-2, key="x")["value"].to_list() == [1.0]
    assert exp.data(run="*", key="?")["key"].unique().to_list() == ["x"]
    log.close()


def test_a_failing_block_logs_a_failed_stop_and_reraises(local_uri: str) -> None:
    log = eventlog.open(local_uri)
    exp = log.experiment("fails")
    with pytest.raises(ZeroDivisionError), exp:
        exp.log_metric("before", 1.0)
        _ = 1 / 0
    stop = exp.data(event="stop")
    info = json.loads(stop["value_json"][0])
    assert info["status"] == "failed"
    assert info["error"] == "ZeroDivisionError: division by zero"
    assert exp.data(key="before")["value"].to_list() == [1.0]
    log.close()


def test_values_nan_inf_numpy_and_unicode_keys_are_kept(any_uri: str) -> None:
    log = eventlog.open(any_uri)
    exp = log.experiment("values")
    long_key = "k" * 1000
    with exp:
        exp.log_metric("nan", float("nan"))
        exp.log_metric("inf", float("inf"), step=np.int64(3))
        exp.log_metric("-inf", -math.inf)
        exp.log_metric("np32", np.float32(0.25))
        exp.log_metric("npint", np.int64(7))
        exp.log_metric("int", 3)
        exp.log_metric("bool", True)
        exp.log_metric("0d", np.array(1.5))
        exp.log_metric("损失/ünï", 2.0)
        exp.log_metric(long_key, 1.0)
    values = dict(exp.data(event="metric").select("key", "value").iter_rows())
    assert math.isnan(values["nan"]) and values["inf"] == math.inf and values["-inf"] == -math.inf
    assert values["np32"] == 0.25 and values["npint"] == 7.0 and values["int"] == 3.0 and values["bool"] == 1.0
    assert values["0d"] == 1.5 and values["损失/ünï"] == 2.0 and values[long_key] == 1.0
    assert exp.data(key="inf")["step"].to_list() == [3]
    log.close()


def test_explicit_dt_and_extras_become_columns(local_uri: str) -> None:
    log = eventlog.open(local_uri)
    exp = log.experiment("extras")
    when = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    with exp:
        exp.log_metric("a", 1.0, dt=when)
        exp.log_extra(tag="v1.5")
        exp.log_metric("b", 2.0)
        exp.log_metric("c", 3.0, fold="2")
        exp.log_extra(remove=True)
        exp.log_metric("d", 4.0)
    frame = exp.data(event="metric").sort("key")
    assert frame["dt"][0] == when
    assert frame["tag"].to_list() == [None, "v1.5", "v1.5", None]
    assert frame["fold"].to_list() == [None, None, "2", None]
    assert exp.data(event="metric", tag="v1.5")["key"].sort().to_list() == ["b", "c"]
    log.close()


def test_two_experiments_in_one_process_go_to_their_own_partitions(local_uri: str) -> None:
    import query

    log = eventlog.open(local_uri)
    a, b = log.experiment("a"), log.experiment("b")
    a.start()
    b.start()
    for i in range(100):
        a.log_metric("x", float(i))
        b.log_metric("y", float(-i))
    a.stop()
    b.stop()
    assert sorted(log.experiments()) == ["a", "b"]
    assert log.experiments("a*") == ["a"]
    files = query.files(local_uri)
    assert any("experiment=a/" in f for f in files) and any("experiment=b/" in f for f in files)
    assert query.data(local_uri, "a", event="metric")["key"].unique().to_list() == ["x"]
    assert query.data(local_uri, "b", event="metric").height == 100
    log.close()


def test_use_reopens_the_latest_run_from_another_process(local_uri: str) -> None:
    first = eventlog.open(local_uri)
    with first.experiment("resume") as exp:
        exp.log_metric("epoch", 1.0)
    first.close()
    second = eventlog.open(local_uri)
    exp2 = second.experiment("resume").use()
    assert exp2.run == 1
    exp2.log_metric("eval", 0.5)
    exp2.flush()
    assert sorted(exp2.data(event="metric")["key"].to_list()) == ["epoch", "eval"]
    second.close()


def test_flush_makes_events_visible_to_another_reader_before_close(local_uri: str) -> None:
    import query

    log = eventlog.open(local_uri, flush_every=3600)
    exp = log.experiment("live")
    exp.start()
    for i in range(1000):
        exp.log_metric("m", float(i), step=i)
    assert query.data(local_uri, "live", event="metric").height == 0  # still in memory
    exp.flush()
    assert query.data(local_uri, "live", event="metric")["value"].sum() == sum(range(1000))
    exp.stop()
    log.close()


def test_max_events_triggers_flushes_into_several_segments(local_uri: str) -> None:
    import query

    log = eventlog.open(local_uri, max_events=1000, flush_every=3600)
    exp = log.experiment("many")
    with exp:
        for i in range(10_000):
            exp.log_metric("m", float(i), step=i)
    frame = exp.data(event="metric")
    assert frame.height == 10_000 and frame["step"].to_list() == list(range(10_000))
    files = query.files(local_uri, "many")
    assert len(files) >= 2  # the flusher woke up before close
    import pyarrow.parquet as pq

    # back-pressure bounds the buffer at max_buffer (default 4 x max_events), so no segment can be larger
    assert log.recorder.policy.capacity == 4 * 1000
    assert max(pq.ParquetFile(f).metadata.num_rows for f in files) <= 4 * 1000 + 2
    seqs = query.scan(local_uri, "many").select("writer", "seq").collect()
    assert seqs.unique().height == seqs.height  # (writer, seq) is unique
    log.close()


def test_events_are_written_at_interpreter_exit(tmp_path: object) -> None:
    import subprocess
    import sys

    import query

    uri = str(tmp_path) + "/store"  # type: ignore[operator]
    code = (
        "import eventlog, sys; exp = eventlog.experiment('atexit', uri=sys.argv[1]); exp.start();"
        "[exp.log_metric('m', float(i)) for i in range(500)]"
    )
    subprocess.run([sys.executable, "-c", code, uri], check=True, timeout=60)
    assert query.data(uri, "atexit", event="metric").height == 500


def test_extras_belong_to_their_run(local_uri: str) -> None:
    log = eventlog.open(local_uri)
    exp = log.experiment("extras-per-run")
    exp.log_extra(team="vision")  # before any run: applies to the next run
    with exp:
        exp.log_metric("a", 1.0)
        exp.log_extra(tag="v1")
        exp.log_metric("b", 2.0)
    with exp:
        exp.log_metric("c", 3.0)
    frame = exp.data(run="*", event="metric").sort("key")
    assert frame.select("key", "team", "tag").rows() == [("a", "vision", None), ("b", "vision", "v1"), ("c", None, None)]
    log.close()


def test_a_collector_url_in_eventlog_uri_logs_through_the_collector(local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: `open()` with $EVENTLOG_URI=http://... opened the collector as an fsspec HTTP store (404s)."""
    from ingest.collector import CollectorThread

    with CollectorThread(local_uri) as collector:
        monkeypatch.setenv("EVENTLOG_URI", collector.url)
        log = eventlog.open()
        exp = log.experiment("remote")
        with exp:
            exp.log_metric("loss", 0.5, step=1)
        log.close()
        assert log.remote is not None
    with eventlog.open(local_uri) as reader:
        assert reader.experiment("remote").data(run="*", key="loss")["value"].to_list() == [0.5]
