"""A filled store for the dashboard's tests: a sweep of runs with params, tags, artifacts, a spike, a failure."""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import eventlog
from eventlog.ui import UIThread

#: Steps of the long curve (run 1 of `sweep`, key `train/loss`), its spike and its dip.
LONG_STEPS = 50_000
SPIKE_STEP, SPIKE = 12_345, 50.0
DIP_STEP, DIP = 40_001, -7.0


def fill(root: Path) -> str:
    """Log the test store under `root`; returns its URI."""
    uri = str(root / "store")
    log = eventlog.open(uri)
    exp = log.experiment("sweep")
    for index, lr in enumerate([0.001, 0.01, 0.1]):
        with exp:
            exp.log_system()
            exp.log_params({"lr": lr, "layers": [64, 32], "optimizer": "adam"})
            exp.set_tags({"name": f"trial-{index}"})
            steps = LONG_STEPS if index == 0 else 500
            for step in range(steps):
                loss = math.exp(-step * lr / 50) + 0.01
                if index == 0 and step == SPIKE_STEP:
                    loss = SPIKE
                if index == 0 and step == DIP_STEP:
                    loss = DIP
                exp.log_metrics({"train/loss": loss, "val/acc": 1 - loss / 2}, step=step)
            model = root / f"model-{index}.bin"
            model.write_bytes(bytes(range(256)) * 10)
            exp.log_artifact(model, "model")
            exp.log_artifact({"lr": lr, "note": "a json artifact"}, "config")
            if index == 0:
                tree = root / "checkpoint"
                (tree / "sub").mkdir(parents=True)
                (tree / "a.txt").write_text("alpha")
                (tree / "sub" / "b.txt").write_text("beta")
                exp.log_artifact(tree, "checkpoint")
                exp.log_artifact({1, 2, 3}, "aset")  # a pickle
    try:
        with exp:
            exp.log_param("lr", 1.0)
            exp.log_metric("train/loss", 9.0, step=0)
            raise FloatingPointError("loss diverged")
    except FloatingPointError:
        pass
    other = log.experiment("other")
    with other:
        other.log_param("lr", 0.5)
        other.log_metric("score", 3.0, step=1)
    log.close()
    return uri


def tree_state(root: str) -> dict[str, tuple[int, float, str]]:
    """Every file under `root`: (size, mtime, sha256), to show that nothing was written."""
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()
            stat = os.stat(path)
            found[os.path.relpath(path, root)] = (stat.st_size, stat.st_mtime, digest)
    return found


@pytest.fixture(scope="package")
def filled_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URI of a store filled by `fill` (shared by the package's tests: they only read it)."""
    root = tmp_path_factory.mktemp("ui")
    previous = {name: os.environ.get(name) for name in ("EVENTLOG_SPOOL_DIR", "EVENTLOG_SIGNING_KEY_FILE")}
    os.environ["EVENTLOG_SPOOL_DIR"] = str(root / "spool")
    os.environ["EVENTLOG_SIGNING_KEY_FILE"] = str(root / "key")
    try:
        return fill(root)
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="package")
def ui(filled_store: str) -> Iterator[UIThread]:
    """The dashboard over the filled store, on a free loopback port, without a token."""
    with UIThread(filled_store) as running:
        yield running
