"""`import_mlflow` round-trips a file store that real MLflow wrote (in a subprocess, as a user would)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import query
from eventlog.core.store import open_store
from ingest.importers import import_mlflow

MLFLOW_SCRIPT = """
import sys, mlflow
mlflow.set_tracking_uri("file://" + sys.argv[1])
mlflow.set_experiment("iris/v1")
with mlflow.start_run(run_name="baseline"):
    mlflow.log_params({"lr": 0.1, "optimizer": "adam"})
    for step in range(20):
        mlflow.log_metric("train/loss", 1.0 / (step + 1), step=step, timestamp=1_700_000_000_000 + step)
    mlflow.log_metrics({"acc": 0.9})
    mlflow.set_tags({"team": "vision"})
try:
    with mlflow.start_run(run_name="broken"):
        mlflow.log_metric("acc", 0.1, step=0)
        raise ValueError("diverged")
except ValueError:
    pass
"""


@pytest.fixture(scope="module")
def mlruns(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mlflow") / "mlruns"
    env = dict(os.environ, MLFLOW_ALLOW_FILE_STORE="true", GIT_PYTHON_REFRESH="quiet")
    subprocess.run([sys.executable, "-c", MLFLOW_SCRIPT, str(root)], check=True, env=env, capture_output=True, timeout=120)
    return root


def test_mlflow_round_trip(mlruns: Path, local_uri: str) -> None:
    store = open_store(local_uri)
    seen: list[str] = []
    report = import_mlflow(store, mlruns, progress=seen.append)
    assert report.experiments == ["iris-v1"]  # '/' is not allowed in experiment names
    assert report.runs == 2 and len(seen) == 2
    assert report.segments_created >= 2

    frame = query.data(store, experiment="iris-v1", run="*")
    loss = frame.filter(pl.col("key") == "train/loss").sort("step")
    assert loss["step"].to_list() == list(range(20))
    assert loss["value"].to_list() == pytest.approx([1.0 / (s + 1) for s in range(20)])
    assert loss["dt"][0].timestamp() == pytest.approx(1_700_000_000.0)

    runs = query.runs(store, "iris-v1").sort("run")
    by_status = dict(zip(runs["status"], runs["run"]))
    assert set(by_status) == {"completed", "failed"}
    good = runs.filter(pl.col("status") == "completed").row(0, named=True)
    assert good["param.lr"] == 0.1 and good["param.optimizer"] == "adam"
    params = frame.filter((pl.col("event") == "param") & (pl.col("run") == good["run"]))
    assert dict(zip(params["key"], params["value"])) == {"lr": 0.1, "optimizer": None}
    assert dict(zip(params["key"], params["value_json"])) == {"lr": None, "optimizer": '"adam"'}
    assert good["metric.acc"] == 0.9
    assert good["metric.train/loss"] == pytest.approx(1 / 20)
    assert good["userid"]
    tags = frame.filter(pl.col("event") == "tag")
    assert ("team", '"vision"') in list(zip(tags["key"], tags["value_json"]))


def test_mlflow_import_is_idempotent(mlruns: Path, local_uri: str) -> None:
    store = open_store(local_uri)
    first = import_mlflow(store, mlruns)
    second = import_mlflow(store, mlruns)
    assert second.segments_created == 0
    assert second.events == first.events
    assert query.data(store, experiment="*", run="*").height == first.events
    assert sorted(query.runs(store, "iris-v1")["run"].to_list()) == [1, 2]


def test_not_an_mlflow_store(tmp_path: Path, local_uri: str) -> None:
    with pytest.raises(ValueError, match="no MLflow experiments"):
        import_mlflow(open_store(local_uri), tmp_path)
    with pytest.raises(FileNotFoundError, match="mlruns"):
        import_mlflow(open_store(local_uri), tmp_path / "missing")
