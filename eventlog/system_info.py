"""What `log_system()` records: platform, python, packages, CPUs, memory, and GPUs when visible."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata
from typing import Any

__all__ = ["system_info"]


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _gpus() -> list[dict[str, Any]]:
    """GPUs via pynvml or nvidia-smi when present; [] otherwise (never required)."""
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
        gpus = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = pynvml.nvmlDeviceGetName(handle)
            gpus.append({"index": i, "name": name if isinstance(name, str) else name.decode(),
                         "memory_total": int(pynvml.nvmlDeviceGetMemoryInfo(handle).total)})
        return gpus
    except Exception:  # no pynvml or no driver: try the command line tool
        pass
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        index, name, memory = (part.strip() for part in line.split(",", 2))
        gpus.append({"index": int(index), "name": name, "memory_total": int(float(memory)) * 2**20})
    return gpus


def system_info() -> dict[str, Any]:
    """A JSON-able dict describing this machine and interpreter (what `exp.log_system()` logs).

    Returns:
        `platform` (`platform.uname()` as a dict), `python` (full version text), `python_version`
        (e.g. `3.11.7`), `implementation`, `executable`, `packages` (`name==version`, sorted),
        `cpu_count`, `memory_bytes` (physical memory, or None), `gpus` (index, name, memory_total
        for each NVIDIA GPU seen by pynvml or nvidia-smi; [] when neither is present), `pid`, `argv`.
    """
    return {
        "platform": platform.uname()._asdict(),
        "python": sys.version,
        "python_version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "packages": sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions() if d.metadata["Name"]),
        "cpu_count": os.cpu_count(),
        "memory_bytes": _memory_bytes(),
        "gpus": _gpus(),
        "pid": os.getpid(),
        "argv": sys.argv,
    }
