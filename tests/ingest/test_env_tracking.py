"""Environment tracking: EVENTLOG_TRACK_* variables present at stop become events of the run."""

from __future__ import annotations

import json
import subprocess
import sys

import polars as pl
import pytest

import eventlog
from ingest.env_tracking import tracked_variables


def test_tracked_variables_are_decoded_keep_their_case_and_default_to_step_0() -> None:
    # Regression (issue 14): keys were lower-cased and a variable without _STEP_n had no step;
    # runnable/magnus keeps the key as written and logs it at step 0.
    environ = {
        "EVENTLOG_TRACK_LOSS": "0.25",
        "EVENTLOG_TRACK_LOSS_STEP_3": "0.1",
        "EVENTLOG_TRACK_CONFIG": '{"layers": 3}',
        "EVENTLOG_TRACK_NAME": "resnet",
        "EVENTLOG_TRACK_val_acc": "0.5",
        "EVENTLOG_TRACK_": "ignored",
        "PATH": "/bin",
    }
    assert tracked_variables(environ) == [
        ("CONFIG", {"layers": 3}, 0),
        ("LOSS", 0.25, 0),
        ("LOSS", 0.1, 3),
        ("NAME", "resnet", 0),
        ("val_acc", 0.5, 0),
    ]


def test_variables_present_at_stop_become_events(
    local_uri: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    log = eventlog.open(local_uri)
    exp = log.experiment("env")
    try:
        with exp:
            # Set during the run (as a shell step or a subprocess wrapper would): read at stop.
            monkeypatch.setenv("EVENTLOG_TRACK_ACC", "0.9")
            monkeypatch.setenv("EVENTLOG_TRACK_ACC_STEP_2", "0.95")
            monkeypatch.setenv("EVENTLOG_TRACK_META", '{"a": [1, 2]}')
            monkeypatch.setenv("EVENTLOG_TRACK_BAD\x01KEY", "1")  # invalid key: skipped, the run still stops
        frame = exp.data(event="metric")
        acc = frame.filter(pl.col("key") == "ACC").sort("step")
        assert acc["value"].to_list() == [0.9, 0.95] and acc["step"].to_list() == [0, 2]
        meta = frame.filter(pl.col("key") == "META")
        assert meta["value"].to_list() == [None] and json.loads(meta["value_json"][0]) == {"a": [1, 2]}
        assert exp.runs()["status"].to_list() == ["completed"]
        assert "EVENTLOG_TRACK_* variable with key 'BAD\\x01KEY' (step 0) not logged" in caplog.text
    finally:
        log.close()


def test_subprocess_run_tracks_its_environment(local_uri: str) -> None:
    script = "import eventlog\nwith eventlog.open(__import__('sys').argv[1]).experiment('job'):\n    pass\n"
    env = {"EVENTLOG_TRACK_EPOCHS": "10", "EVENTLOG_TRACK_NOTE": "not json", "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", script, local_uri], check=True, env=env, timeout=120)
    frame = eventlog.open(local_uri).experiment("job").data(run="*", event="metric").sort("key")
    assert frame["key"].to_list() == ["EPOCHS", "NOTE"] and frame["step"].to_list() == [0, 0]
    assert frame["value"].to_list() == [10.0, None]
    assert frame["value_json"].to_list() == [None, '"not json"']
