"""`log_system()`: platform, python, packages, CPUs, memory, and GPUs when nvidia-smi is there."""

from __future__ import annotations

import json
import os
import platform
import stat
import sys
from pathlib import Path

import pytest

import eventlog
from eventlog.system_info import system_info


def test_system_info_describes_this_machine() -> None:
    info = system_info()
    json.dumps(info)  # JSON-able as a whole
    assert info["platform"] == platform.uname()._asdict()
    assert info["python_version"] == platform.python_version() and info["python"] == sys.version
    assert info["cpu_count"] == os.cpu_count() and info["cpu_count"] >= 1
    assert info["memory_bytes"] > 2**26
    assert any(p.lower().startswith("polars==") for p in info["packages"])
    assert isinstance(info["gpus"], list)


def test_gpus_are_read_from_nvidia_smi_when_present(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in nvidia-smi that prints what the real one prints for this query on a 2-GPU machine.
    tool = tmp_path / "nvidia-smi"
    tool.write_text("#!/bin/sh\necho '0, NVIDIA A100-SXM4-40GB, 40960'\necho '1, NVIDIA A100-SXM4-40GB, 40960'\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setitem(sys.modules, "pynvml", None)  # as on a machine without pynvml
    gpus = system_info()["gpus"]
    assert gpus == [
        {"index": 0, "name": "NVIDIA A100-SXM4-40GB", "memory_total": 40960 * 2**20},
        {"index": 1, "name": "NVIDIA A100-SXM4-40GB", "memory_total": 40960 * 2**20},
    ]


def test_no_gpu_tool_means_no_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setitem(sys.modules, "pynvml", None)
    assert system_info()["gpus"] == []


def test_log_system_is_an_event_of_the_run(local_uri: str) -> None:
    log = eventlog.open(local_uri, flush_every=60)
    exp = log.experiment("sys")
    with exp:
        exp.log_system()
        exp.log_system("cuda", "12.4")
    frame = exp.data(event="system")
    assert frame["key"].to_list() == ["system", "cuda"]
    logged = json.loads(frame["value_json"][0])
    assert logged["platform"]["node"] == platform.node() and logged["cpu_count"] == os.cpu_count()
    assert json.loads(frame["value_json"][1]) == "12.4"
    log.close()
