"""Many runs from one process: a sweep or an Optuna study starting thousands of short runs.

One process opens a local store and runs RUNS runs of 20 events each (start, 18 metrics, stop:
`exp.start()`, `log_metric`, `exp.stop()`, which flushes). A second eventlog contender opens the
log with `flush_on_stop=False`, the setting for sweeps: stopped runs wait for the periodic flush
and share its segments. After writing, each eventlog worker times `query.runs()` over what it
wrote and counts the segment files. Per-run times of the first and last
500 runs show whether a run costs more as the experiment grows (it should not: claims probe a
high-water mark, and a sealed table holds only the slots it uses). The peer is MLflow's default
sqlite store doing the same (`start_run`, 18 `log_metric`, `end_run`), on fewer runs: it is two
orders of magnitude slower per run.

Every contender runs in its own process, after `sync` and `SETTLE_S` seconds of quiet disk (the
previous contender's deleted store is still being written back); the contenders alternate over
`--rounds` rounds (the order reversed every other round) and the median round is reported, with
the load average.
`--baseline DIR` also runs eventlog from another checkout (DIR first on PYTHONPATH), for
before/after in one run.

    .venv/bin/python benchmarks/bench_many_runs.py                  # 10,000 runs, 3 rounds
    .venv/bin/python benchmarks/bench_many_runs.py --runs 2000 --rounds 1 --mlflow-runs 0   # quick
    git worktree add /tmp/before <rev>
    .venv/bin/python benchmarks/bench_many_runs.py --baseline /tmp/before

Prints a table and writes benchmarks/results/bench_many_runs.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import worker_result

RESULTS = Path(__file__).parent / "results"
METRICS_PER_RUN = 18  # + start and stop: 20 events
SETTLE_S = 2.0  # seconds of quiet disk before each contender
SWEEP = "eventlog, flush_on_stop=False"


def worker_eventlog(runs: int, *, flush_on_stop: bool = True) -> dict[str, Any]:
    """Log `runs` short runs into a fresh local store; the per-run times and the total, then the
    time of `query.runs()` over them and the number of segment files."""
    import eventlog
    import query

    with tempfile.TemporaryDirectory() as root:
        uri = os.path.join(root, "store")
        log = eventlog.open(uri) if flush_on_stop else eventlog.open(uri, flush_on_stop=False)
        exp = log.experiment("sweep")
        per_run = []
        started = time.perf_counter()
        for _ in range(runs):
            begun = time.perf_counter()
            exp.start()
            for step in range(METRICS_PER_RUN):
                exp.log_metric("loss", 1.0 / (step + 1), step=step)
            exp.stop()
            per_run.append(time.perf_counter() - begun)
        log.close()
        total = time.perf_counter() - started
        read_started = time.perf_counter()
        read_back = query.runs(uri, "sweep").height
        read_s = time.perf_counter() - read_started
        segments = sum(len(files) for _, _, files in os.walk(os.path.join(uri, "seg")))
    if read_back != runs:
        raise AssertionError(f"{read_back} runs read back, {runs} written")
    return {"runs": runs, "total_s": total, "per_run_s": per_run, "runs_read_s": read_s, "segments": segments}


def worker_mlflow(runs: int) -> dict[str, Any]:
    """The same with MLflow's default (sqlite) tracking store."""
    import logging

    logging.getLogger("alembic").setLevel(logging.WARNING)
    import mlflow

    with tempfile.TemporaryDirectory() as root:
        mlflow.set_tracking_uri(f"sqlite:///{root}/mlflow.db")
        mlflow.set_experiment("sweep")
        per_run = []
        started = time.perf_counter()
        for _ in range(runs):
            begun = time.perf_counter()
            with mlflow.start_run():
                for step in range(METRICS_PER_RUN):
                    mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            per_run.append(time.perf_counter() - begun)
        total = time.perf_counter() - started
    return {"runs": runs, "total_s": total, "per_run_s": per_run}


def spawn(worker: str, runs: int, pythonpath: str | None = None) -> dict[str, Any]:
    """Run one worker in its own process; its result with the load average after it."""
    cmd = [sys.executable, __file__, "--worker", worker, "--runs", str(runs)]
    # the previous contender's deleted store is still being written back and discarded: let the
    # disk settle, so its I/O does not slow this contender's first fsyncs
    os.sync()
    time.sleep(SETTLE_S)
    result = worker_result(cmd, pythonpath)
    result["load_average"] = os.getloadavg()[0]
    return result


def summarise(label: str, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The median round of a contender: total, ms per run overall and for the first and last 500."""
    median = sorted(rounds, key=lambda r: r["total_s"])[len(rounds) // 2]
    per_run = median["per_run_s"]
    window = min(500, len(per_run))
    return {
        "contender": label,
        "runs": median["runs"],
        "total_s": median["total_s"],
        "ms_per_run": median["total_s"] / median["runs"] * 1000,
        "median_ms_first_500": statistics.median(per_run[:window]) * 1000,
        "median_ms_last_500": statistics.median(per_run[-window:]) * 1000,
        "load_average": median["load_average"],
        "all_total_s": [r["total_s"] for r in rounds],
        "runs_read_s": median.get("runs_read_s"),
        "segments": median.get("segments"),
    }


def main() -> None:
    """Run the benchmark, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--mlflow-runs", type=int, default=300, help="runs for MLflow (0: skip the peer)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", help="another checkout whose eventlog also runs (before/after)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        workers = {
            "eventlog": lambda: worker_eventlog(args.runs),
            "eventlog-sweep": lambda: worker_eventlog(args.runs, flush_on_stop=False),
            "mlflow": lambda: worker_mlflow(args.runs),
        }
        print(json.dumps(workers[args.worker]()))
        return

    plan: list[tuple[str, str, int, str | None]] = [
        ("eventlog", "eventlog", args.runs, None),
        (SWEEP, "eventlog-sweep", args.runs, None),
    ]
    if args.baseline:
        plan.append(("eventlog @baseline", "eventlog", args.runs, args.baseline))
    if args.mlflow_runs:
        plan.append(("MLflow sqlite", "mlflow", args.mlflow_runs, None))
    rounds: dict[str, list[dict[str, Any]]] = {label: [] for label, *_ in plan}
    for round_ in range(args.rounds):
        for label, worker, runs, pythonpath in plan if round_ % 2 == 0 else plan[::-1]:
            result = spawn(worker, runs, pythonpath)
            rounds[label].append(result)
            print(f"  round {round_ + 1}: {label}: {result['total_s']:.1f} s (load {result['load_average']:.2f})", file=sys.stderr)
    rows = [summarise(label, rounds[label]) for label, *_ in plan]
    reference = rows[0]["ms_per_run"]
    print(f"short runs of 20 events from one process (local disk), median of {args.rounds} alternating rounds")
    print(
        f"{'contender':<32} {'runs':>7} {'total s':>8} {'ms/run':>7} {'first 500':>10} {'last 500':>9} {'vs eventlog':>11} "
        f"{'runs() s':>8} {'segments':>8} {'load':>5}"
    )
    for row in rows:
        row["ratio_vs_eventlog"] = row["ms_per_run"] / reference
        read = "" if row["runs_read_s"] is None else f"{row['runs_read_s']:.2f}"
        print(
            f"{row['contender']:<32} {row['runs']:>7,} {row['total_s']:>8.1f} {row['ms_per_run']:>7.2f} "
            f"{row['median_ms_first_500']:>10.2f} {row['median_ms_last_500']:>9.2f} {row['ratio_vs_eventlog']:>10.1f}x "
            f"{read:>8} {row['segments'] or '':>8} {row['load_average']:>5.2f}"
        )
    RESULTS.mkdir(exist_ok=True)
    out = {"machine": platform.platform(), "cpus": os.cpu_count(), "argv": sys.argv[1:], "rows": rows}
    (RESULTS / "bench_many_runs.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
