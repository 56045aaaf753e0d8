"""Many runs from one process: a sweep or an Optuna study starting thousands of short runs.

One process opens a local store and runs RUNS runs of 20 events each (start, 18 metrics, stop:
`exp.start()`, `log_metric`, `exp.stop()`, which flushes). Per-run times of the first and last
500 runs show whether a run costs more as the experiment grows (it should not: claims probe a
high-water mark, and a sealed table holds only the slots it uses).

    .venv/bin/python benchmarks/bench_many_runs.py               # 10,000 runs
    .venv/bin/python benchmarks/bench_many_runs.py --runs 2000   # quick

Prints a table and writes benchmarks/results/bench_many_runs.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import eventlog
import query

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    """Run the benchmark, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        uri = os.path.join(root, "store")
        log = eventlog.open(uri)
        exp = log.experiment("sweep")
        per_run = []
        started = time.perf_counter()
        for _ in range(args.runs):
            begun = time.perf_counter()
            exp.start()
            for step in range(18):
                exp.log_metric("loss", 1.0 / (step + 1), step=step)
            exp.stop()
            per_run.append(time.perf_counter() - begun)
        log.close()
        total = time.perf_counter() - started
        runs = query.runs(uri, "sweep")
        assert runs.height == args.runs, f"{runs.height} runs read back, {args.runs} written"
    window = min(500, args.runs)
    first = statistics.median(per_run[:window]) * 1000
    last = statistics.median(per_run[-window:]) * 1000
    load = os.getloadavg()[0]
    print(f"{args.runs:,} runs x 20 events from one process (local disk), load average {load:.2f}")
    print(f"{'total s':>8} {'first 500 ms/run':>17} {'last 500 ms/run':>16}")
    print(f"{total:>8.1f} {first:>17.2f} {last:>16.2f}")
    RESULTS.mkdir(exist_ok=True)
    out = {
        "runs": args.runs,
        "total_s": total,
        "median_ms_first_500": first,
        "median_ms_last_500": last,
        "load_average": load,
        "machine": platform.platform(),
    }
    (RESULTS / "bench_many_runs.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
