"""Helpers the benchmark scripts share (each script still runs on its own: `python benchmarks/x.py`)."""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

#: tests/support/testkit.py holds the seeded segment generator the compaction tests use too; it
#: is not part of the shipped packages, so the scripts find it by path. (Not tests/ itself: its
#: eventlog/ folder would shadow the eventlog package as a namespace package.)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))


def worker_result(cmd: list[str], checkout: str | None = None) -> dict[str, Any]:
    """Run a benchmark worker in its own process; the JSON its last line of output prints.

    Args:
        cmd: the worker's command line.
        checkout: another checkout whose packages shadow this one's (first on PYTHONPATH: an
            editable install's finder comes after sys.path), for before/after; None: this one.

    Raises:
        subprocess.CalledProcessError: the worker failed.
    """
    env = dict(os.environ)
    if checkout:
        env["PYTHONPATH"] = os.pathsep.join([checkout, *filter(None, [env.get("PYTHONPATH")])])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (for a server the benchmark starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_moto(log: Path | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """A moto S3 server in its own process on 127.0.0.1 (its request log to `log`, if given).

    Returns:
        (the process, its endpoint URL).

    Raises:
        RuntimeError: the server did not answer within 10 s.
    """
    port = free_port()
    exe = Path(sys.executable).with_name("moto_server")
    stderr = subprocess.DEVNULL if log is None else log.open("wb")
    proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=stderr)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(endpoint + "/moto-api/data.json", timeout=1)
            return proc, endpoint
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("moto_server did not start")
