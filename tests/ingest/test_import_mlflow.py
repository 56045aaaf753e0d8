"""`import_mlflow` round-trips stores that real MLflow 3 wrote (in a subprocess, as a user would): file and sqlite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import query
from eventlog.core.store import open_store
from eventlog.errors import ExtraNotInstalledError
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


def test_runs_are_numbered_by_start_time(mlruns: Path, local_uri: str) -> None:
    store = open_store(local_uri)
    import_mlflow(store, mlruns)
    starts = query.data(store, experiment="iris-v1", run="*").filter(pl.col("event") == "start").sort("run")
    assert starts["dt"].is_sorted()
    assert starts["name"].to_list() == ["baseline", "broken"]


def test_mlflow_import_is_idempotent(mlruns: Path, local_uri: str) -> None:
    store = open_store(local_uri)
    first = import_mlflow(store, mlruns)
    second = import_mlflow(store, mlruns)
    assert second.segments_created == 0
    assert second.events == 0 and second.already_present == first.events
    assert query.data(store, experiment="*", run="*").height == first.events
    assert sorted(query.runs(store, "iris-v1")["run"].to_list()) == [1, 2]


GROWING_RUN = """
import sys
from mlflow.tracking import MlflowClient
client = MlflowClient(tracking_uri=sys.argv[1])
if sys.argv[2] == "begin":
    experiment = client.create_experiment("sweep")
    run = client.create_run(experiment, run_name="long")
    client.log_param(run.info.run_id, "lr", "0.01")
    for step in range(10):
        client.log_metric(run.info.run_id, "loss", 1.0 / (step + 1), timestamp=1_700_000_000_000 + step, step=step)
    print(run.info.run_id)
else:
    run_id = sys.argv[3]
    for step in range(10, 25):
        client.log_metric(run_id, "loss", 1.0 / (step + 1), timestamp=1_700_000_000_000 + step, step=step)
    client.set_terminated(run_id, "FINISHED")
"""


def _mlflow(*args: str) -> str:
    env = dict(os.environ, GIT_PYTHON_REFRESH="quiet")
    done = subprocess.run(
        [sys.executable, "-c", GROWING_RUN, *args], check=True, env=env, capture_output=True, text=True, timeout=180
    )
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def test_a_sqlite_run_that_grew_gains_only_its_new_events(tmp_path: Path, local_uri: str) -> None:
    """MLflow 3's default store; the second import is an upsert, and the finished run is completed."""
    database = tmp_path / "mlflow.db"
    run_id = _mlflow(f"sqlite:///{database}", "begin")
    store = open_store(local_uri)
    first = import_mlflow(store, database)  # a path to mlflow.db is read as sqlite
    assert first.runs == 1 and first.events == 1 + 1 + 1 + 10  # start, param, the mlflow.runName tag, 10 points; no stop yet
    assert query.runs(store, "sweep")["status"].to_list() != ["completed"]

    _mlflow(f"sqlite:///{database}", "end", run_id)
    second = import_mlflow(store, f"sqlite:///{database}")
    assert second.events == 15 + 1 and second.already_present == 13  # the new points and the stop
    loss = query.data(store, experiment="sweep", run="*").filter(pl.col("key") == "loss")
    assert loss["step"].sort().to_list() == list(range(25))  # nothing twice
    assert loss.height == 25
    runs = query.runs(store, "sweep")
    assert runs["run"].to_list() == [1] and runs["status"].to_list() == ["completed"]
    assert runs["metric.loss"].to_list() == [pytest.approx(1 / 25)]
    assert import_mlflow(store, database).events == 0


def test_without_mlflow_the_error_says_what_to_install(mlruns: Path, local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if MLflow were not installed
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    with pytest.raises(ExtraNotInstalledError, match=r"pip install 'eventlog\[importers\]'"):
        import_mlflow(open_store(local_uri), mlruns)


def test_not_an_mlflow_store(tmp_path: Path, local_uri: str) -> None:
    with pytest.raises(ValueError, match="no MLflow experiments"):
        import_mlflow(open_store(local_uri), tmp_path)
    with pytest.raises(FileNotFoundError, match="mlruns"):
        import_mlflow(open_store(local_uri), tmp_path / "missing")


FRESH_PROJECT = """
import mlflow  # no tracking URI set: MLflow 3 writes to sqlite:///mlflow.db in the working directory
with mlflow.start_run(run_name="first"):
    mlflow.log_param("lr", 0.1)
    for step in range(5):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
"""


def test_a_fresh_mlflow3_project_imports_with_one_command(tmp_path: Path) -> None:
    env = dict(os.environ, GIT_PYTHON_REFRESH="quiet")
    env.pop("MLFLOW_TRACKING_URI", None)
    subprocess.run([sys.executable, "-c", FRESH_PROJECT], cwd=tmp_path, check=True, env=env, capture_output=True, timeout=180)
    assert (tmp_path / "mlflow.db").is_file()
    store = tmp_path / "store"
    command = [sys.executable, "-m", "eventlog.cli", "import", "mlflow", "sqlite:///mlflow.db", "--store", str(store)]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "runs: 1" in done.stdout
    runs = query.runs(open_store(str(store)), "Default")
    assert runs["status"].to_list() == ["completed"] and runs["param.lr"].to_list() == [0.1]
    assert runs["metric.loss"].to_list() == [pytest.approx(0.2)]
