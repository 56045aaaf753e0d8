"""Helpers the benchmark scripts share (each script still runs on its own: `python benchmarks/x.py`)."""

from __future__ import annotations

import resource
import socket
import sys
from pathlib import Path

#: tests/support/testkit.py holds the seeded segment generator the compaction tests use too; it
#: is not part of the shipped packages, so the scripts find it by path. (Not tests/ itself: its
#: eventlog/ folder would shadow the eventlog package as a namespace package.)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (for a server the benchmark starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
