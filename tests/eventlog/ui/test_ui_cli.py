"""`eventlog ui` as a subprocess: it serves the store's dashboard, and refuses what it must."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from typer.testing import CliRunner

from eventlog.cli.app import app


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "eventlog.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "EVENTLOG_TOKEN": ""}, stdin=subprocess.DEVNULL)  # fmt: skip


def test_ui_serves_the_dashboard_with_its_token(filled_store: str, free_port: int) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "eventlog.cli", "ui", "--store", filled_store, "--port", str(free_port), "--token", "tok"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{free_port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # the process is starting: retry until it listens
            try:
                urllib.request.urlopen(f"{base}/api/info", timeout=5)
            except urllib.error.HTTPError as exc:
                assert exc.code == 401  # listening, and the token is required
                break
            except OSError:
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "the dashboard did not start"
                time.sleep(0.1)
        request = urllib.request.Request(f"{base}/api/experiments", headers={"Authorization": "Bearer tok"})
        with urllib.request.urlopen(request, timeout=30) as reply:
            assert json.load(reply) == {"experiments": ["other", "sweep"]}
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=60)
    assert f"{base}/?token=tok" in stderr


def test_ui_refuses_a_missing_store_and_an_open_bind_without_token(tmp_path: Path) -> None:
    missing = cli("ui", "--store", str(tmp_path / "nothing"))
    assert missing.returncode == 1 and "no store" in missing.stderr
    assert not (tmp_path / "nothing").exists()
    open_bind = cli("ui", "--store", str(tmp_path), "--host", "0.0.0.0")
    assert open_bind.returncode == 1 and "without a token" in open_bind.stderr


def test_ui_help_has_an_example() -> None:
    result = CliRunner().invoke(app, ["ui", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "Example" in result.output and "--store" in result.output and "--token" in result.output
