"""Artifacts round-trip on every backend: JSON values inline, files copied, other objects pickled."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import eventlog
from eventlog.core.artifacts import ArtifactCorruptError
from eventlog.experiment import Experiment
from eventlog.log import Log


class Model:
    """A stand-in for a trained model: an object that is not JSON-able."""

    def __init__(self, weights: np.ndarray) -> None:
        self.weights = weights

    def predict(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weights


def test_values_files_and_objects_round_trip(any_uri: str, tmp_path: Path) -> None:
    source = tmp_path / "weights.bin"
    payload = os.urandom(3 * 2**20 + 17)  # several chunks, not a multiple of the chunk size
    source.write_bytes(payload)
    model = Model(np.arange(6, dtype=np.float64).reshape(3, 2))
    log = eventlog.open(any_uri, flush_every=60)
    exp = log.experiment("arts")
    with exp:
        exp.log_artifact({"layers": [64, 32], "act": "relu"}, "config")
        exp.log_artifact("just text", "note")
        exp.log_artifact(source, "weights", step=3)
        exp.log_artifact(model, "model")
        exp.log_artifact((1, 2, "three"), "tuple")  # a tuple is not JSON: pickled, comes back as a tuple
    restored = exp.restore_artifacts()
    config, note, weights, back, tup = restored
    assert config == {"layers": [64, 32], "act": "relu"}
    assert note == "just text"
    assert isinstance(weights, Path) and weights.name == "weights.bin" and weights.read_bytes() == payload
    assert isinstance(back, Model) and back.predict(np.ones(3)).tolist() == [6.0, 9.0]
    assert tup == (1, 2, "three")
    assert exp.restore_artifacts(key="config") == [config]

    refs = [json.loads(t) for t in exp.data(event="artifact")["value_json"]]
    assert [r["format"] for r in refs] == ["json", "json", "file", "pickle", "pickle"]
    file_ref = refs[2]
    assert file_ref["size"] == len(payload) and file_ref["sha256"] == hashlib.sha256(payload).hexdigest()
    assert file_ref["path"].startswith("artifacts/arts/1/")
    assert exp.data(event="artifact", key="weights")["step"].to_list() == [3]
    assert log.store.exists(file_ref["path"]) and log.store.exists(refs[3]["path"])
    log.close()


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def shared_uri(request: pytest.FixtureRequest) -> str:
    """A store that another process can open too: local disk and S3 (memory:// is private to a process)."""
    return str(request.getfixturevalue(f"{request.param}_uri"))


def log_file_and_set(uri: str, experiment: str, source: Path, items: set[object]) -> tuple[Log, Experiment]:
    """Open a log and, in one run of `experiment`, log the file `source` as `file` and `items` (pickled) as `set`."""
    log = eventlog.open(uri, flush_every=60)
    exp = log.experiment(experiment)
    with exp:
        exp.log_artifact(source, "file")
        exp.log_artifact(items, "set")
    return log, exp


def test_another_process_restores_from_the_store(shared_uri: str, tmp_path: Path) -> None:
    source = tmp_path / "report.csv"
    source.write_text("a,b\n1,2\n")
    log, _ = log_file_and_set(shared_uri, "shared", source, {1, 2, 3})
    log.close()
    cache = tmp_path / "cache"
    script = (
        "import eventlog, sys\n"
        f"exp = eventlog.open({shared_uri!r}).experiment('shared').use()\n"
        "path, numbers = exp.restore_artifacts()\n"
        "print(open(path).read().replace('\\n', '|'), sorted(numbers), str(path).startswith(sys.argv[1]) or path.is_file())\n"
    )
    env = {**os.environ, "EVENTLOG_ARTIFACT_CACHE": str(cache)}
    done = subprocess.run([sys.executable, "-c", script, str(cache)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "a,b|1,2| [1, 2, 3] True"


def test_restore_downloads_into_a_directory_and_reuses_it(s3_uri: str, tmp_path: Path) -> None:
    source = tmp_path / "model.pt"
    source.write_bytes(b"\x00weights" * 1000)
    log = eventlog.open(s3_uri, flush_every=60)
    exp = log.experiment("dl")
    with exp:
        exp.log_artifact(source, "model")
    frame = exp.data(event="artifact")
    from eventlog.core.artifacts import restore_artifacts

    first = restore_artifacts(log.store, frame, dest=tmp_path / "out")
    second = restore_artifacts(log.store, frame, dest=tmp_path / "out")
    assert first == second and first[0].read_bytes() == source.read_bytes()
    assert first[0].is_relative_to(tmp_path / "out")
    log.close()


def test_a_changed_payload_is_detected(local_uri: str, tmp_path: Path) -> None:
    source = tmp_path / "data.txt"
    source.write_text("original")
    log, exp = log_file_and_set(local_uri, "tamper", source, {"a", "b"})
    refs = [json.loads(t) for t in exp.data(event="artifact")["value_json"]]
    Path(log.store.full_path(refs[0]["path"])).write_text("changed!")
    Path(log.store.full_path(refs[1]["path"])).unlink()
    with pytest.raises(ArtifactCorruptError, match="sha256"):
        exp.restore_artifacts(key="file")
    with pytest.raises(ArtifactCorruptError, match="missing"):
        exp.restore_artifacts(key="set")
    log.close()


def test_bad_artifacts_raise_clear_errors_and_lose_nothing(local_uri: str, tmp_path: Path) -> None:
    log = eventlog.open(local_uri, flush_every=60)
    exp = log.experiment("bad")
    with exp:
        exp.log_metric("before", 1.0)
        with pytest.raises(FileNotFoundError, match="no file at"):
            exp.log_artifact(tmp_path / "missing.bin", "m")
        with pytest.raises(TypeError, match="cannot pickle"):
            exp.log_artifact(threading.Lock(), "lock")  # a lock cannot be pickled
        exp.log_metric("after", 2.0)
    frame = exp.data()
    assert frame.filter(pl.col("event") == "metric")["key"].to_list() == ["before", "after"]
    assert frame.filter(pl.col("event") == "artifact").height == 0
    assert frame["event"].to_list()[-1] == "stop"
    log.close()


def test_a_directory_stores_its_tree_and_a_str_naming_a_file_is_that_file(any_uri: str, tmp_path: Path) -> None:
    # Regression (issue 14): a directory raised IsADirectoryError (MLflow's log_artifacts stores the
    # tree), and a str naming an existing file was stored as that text.
    tree = tmp_path / "checkpoint"
    (tree / "shards").mkdir(parents=True)
    (tree / "config.json").write_text('{"layers": 2}')
    (tree / "shards" / "0.bin").write_bytes(os.urandom(1000))
    (tree / "shards" / "1.bin").write_bytes(b"")  # an empty file is a file too
    single = tmp_path / "notes.txt"
    single.write_text("a file, named by a str")
    dest = tmp_path / "restored"
    with eventlog.open(any_uri, flush_every=60) as log:
        exp = log.experiment("tree")
        with exp:
            exp.log_artifact(tree, "ckpt")
            exp.log_artifact(str(single), "notes")
            exp.log_artifact(str(tree), "ckpt-by-str")
            exp.log_artifact("not a path", "text")
        ckpt, notes, by_str, text = exp.restore_artifacts(dest=dest)
        refs = [json.loads(t) for t in exp.data(event="artifact")["value_json"]]
    assert [r["format"] for r in refs] == ["dir", "file", "dir", "json"]
    for restored in (ckpt, by_str):
        assert isinstance(restored, Path) and restored.name == "checkpoint" and restored.is_relative_to(dest)
        files = sorted(p.relative_to(restored).as_posix() for p in restored.rglob("*") if p.is_file())
        assert files == ["config.json", "shards/0.bin", "shards/1.bin"]
        assert (restored / "shards" / "0.bin").read_bytes() == (tree / "shards" / "0.bin").read_bytes()
    assert isinstance(notes, Path) and notes.read_text() == "a file, named by a str"
    assert text == "not a path"
    assert refs[0]["size"] == 1000 + len('{"layers": 2}')


def test_a_stored_files_name_is_durable_before_its_event_is_logged(local_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from eventlog.core import artifacts
    from eventlog.core.store import open_store
    from tests.support.testkit import record_calls

    source = tmp_path / "weights.bin"
    source.write_bytes(b"\x00" * 1000)
    store = open_store(local_uri)
    synced = record_calls(monkeypatch, "fsync_dir", artifacts)
    ref = artifacts.store_artifact(store, "e", 1, "weights", source)
    payload = Path(store.full_path(ref["path"]))
    assert payload.read_bytes() == source.read_bytes()
    assert synced == [str(payload.parent)]  # the payload's name, in its (new) directory
