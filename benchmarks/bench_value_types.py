"""The hot path for every numeric type: `log_metric` with a float, numpy scalars and Python ints.

Users log numpy scalars (`loss.item()` of numpy, `np.mean(...)`) and ints (counts, epochs) as
often as floats. For each type, one process logs EVENTS calls of `exp.log_metric("k<i>", value,
step=i)` over 8 keys into a local store (the close, flush and fsync are not timed: this is the cost
in the training loop), in ROUNDS rounds with the types alternating, and reports the median
µs per call and the ratio to a float.

    .venv/bin/python benchmarks/bench_value_types.py              # 1M calls per type and round, 5 rounds
    .venv/bin/python benchmarks/bench_value_types.py --events 200000

Prints a table and writes benchmarks/results/bench_value_types.json.
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
from typing import Any

import numpy as np

import eventlog

RESULTS = Path(__file__).parent / "results"
KEYS = [f"k{i}" for i in range(8)]
TYPES: dict[str, Any] = {
    "float": float,
    "numpy float64": np.float64,
    "numpy float32": np.float32,
    "numpy int64": np.int64,
    "int": int,
}


def one_round(name: str, events: int, root: str) -> float:
    """µs per `log_metric` call for values of type `name`."""
    make = TYPES[name]
    values = [make(v) for v in np.random.default_rng(0).integers(0, 1000, 4096).tolist()]
    log = eventlog.open(os.path.join(root, name.replace(" ", "-")), max_events=10_000_000)
    exp = log.experiment("types")
    exp.start()
    log_metric = exp.log_metric
    for key in KEYS:  # register the keys (the first call of a key takes the slow path)
        log_metric(key, values[0], step=0)
    started = time.perf_counter()
    for i in range(events):
        log_metric(KEYS[i & 7], values[i & 4095], step=i)
    elapsed = time.perf_counter() - started
    log.close()
    return elapsed / events * 1e6


def main() -> None:
    """Run the benchmark, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in TYPES}
    with tempfile.TemporaryDirectory() as root:
        for round_ in range(args.rounds):
            order = list(TYPES) if round_ % 2 == 0 else list(reversed(TYPES))  # alternate the contenders
            for name in order:
                times[name].append(one_round(name, args.events, os.path.join(root, str(round_))))
    load = os.getloadavg()[0]
    float_median = statistics.median(times["float"])
    print(f"log_metric per call, median of {args.rounds} alternating rounds of {args.events:,} calls; load average {load:.2f}")
    print(f"{'value type':<15} {'µs/call':>8} {'vs float':>9}")
    results = {}
    for name, samples in times.items():
        median = statistics.median(samples)
        results[name] = {"us_per_call": median, "ratio_to_float": median / float_median, "samples": samples}
        print(f"{name:<15} {median:>8.3f} {median / float_median:>8.2f}x")
    RESULTS.mkdir(exist_ok=True)
    out = {"events": args.events, "rounds": args.rounds, "results": results, "load_average": load, "machine": platform.platform()}
    (RESULTS / "bench_value_types.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
