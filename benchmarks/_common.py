"""Helpers the benchmark scripts share (each script still runs on its own: `python benchmarks/x.py`)."""

from __future__ import annotations

import resource
import socket


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (for a server the benchmark starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
