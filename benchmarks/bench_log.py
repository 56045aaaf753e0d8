"""Write-path benchmark: the cost of logging metrics until everything is in a durable segment.

One process logs STEPS x KEYS random float metrics, per event with `log_metric` and per step with
`log_metrics(dict, step=)`, then `close()`s the log (the final flush and fsync are timed). The same
workload runs for tensorboardX `add_scalar` and MLflow's file store `log_metric` (fewer events:
they are 2-3 orders of magnitude slower), and for the floor: a bare loop appending to column lists
and writing one zstd Parquet file with pyarrow. Every contender runs in its own subprocess.

    .venv/bin/python benchmarks/bench_log.py                 # 10M events per eventlog mode
    .venv/bin/python benchmarks/bench_log.py --steps 50000   # quicker
    git worktree add /tmp/before <rev>                       # before/after in one run:
    .venv/bin/python benchmarks/bench_log.py --durability memory --baseline /tmp/before

The contenders alternate over `--rounds` rounds (the order reversed every other round), and the
table gives each one's median with the load average seen at its runs. `--baseline DIR` adds
eventlog's two modes run from another checkout (DIR first on PYTHONPATH), for before/after.

Prints a table (µs/event, events/s, bytes on disk per event, peak RSS, ratio to eventlog's
log_metric, load average) and writes benchmarks/results/bench_log.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import peak_rss_mb, worker_result

RESULTS = Path(__file__).parent / "results"
POOL = 1 << 20  # random values are drawn from a pool of 1M floats: no repeats within a segment


def _values(seed: int = 0) -> list[float]:
    import numpy as np

    return np.random.default_rng(seed).random(POOL).tolist()


def _disk_bytes(root: str, suffixes: tuple[str, ...] = ("",)) -> int:
    total = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            if name.endswith(suffixes):
                total += os.path.getsize(os.path.join(dirpath, name))
    return total



def worker_eventlog(mode: str, steps: int, keys: int, root: str, durability: str) -> dict[str, Any]:
    import eventlog

    names = [f"train/metric_{k:02d}" for k in range(keys)]
    values = _values()
    log = eventlog.open(root, durability=durability)
    exp = log.experiment("bench")
    exp.start()
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    i = 0
    if mode == "log_metric":
        log_metric = exp.log_metric
        for step in range(steps):
            for name in names:
                log_metric(name, values[i & (POOL - 1)], step)
                i += 1
    else:
        for step in range(steps):
            base = i & (POOL - 1)
            exp.log_metrics(dict(zip(names, values[base : base + keys], strict=False)), step=step)
            i += keys
    logged = time.perf_counter()
    log.close()
    done = time.perf_counter()
    events = steps * keys
    return {
        "events": events,
        "seconds": done - started,
        "hot_path_seconds": logged - started,
        "bytes": _disk_bytes(os.path.join(root, "seg"), (".parquet",)),
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": rss_before,
    }


def worker_tensorboardx(steps: int, keys: int, root: str) -> dict[str, Any]:
    from tensorboardX import SummaryWriter

    names = [f"train/metric_{k:02d}" for k in range(keys)]
    values = _values()
    writer = SummaryWriter(root)
    started = time.perf_counter()
    i = 0
    for step in range(steps):
        for name in names:
            writer.add_scalar(name, values[i & (POOL - 1)], step)
            i += 1
    writer.close()
    done = time.perf_counter()
    return {"events": steps * keys, "seconds": done - started, "bytes": _disk_bytes(root), "peak_rss_mb": peak_rss_mb()}


def worker_mlflow(steps: int, keys: int, root: str) -> dict[str, Any]:
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # mlflow 3.x keeps the file store in maintenance mode
    import mlflow

    names = [f"train/metric_{k:02d}" for k in range(keys)]
    values = _values()
    mlflow.set_tracking_uri(f"file:{root}/mlruns")  # a fresh dir: mlflow creates the default experiment
    started = time.perf_counter()
    i = 0
    with mlflow.start_run():
        for step in range(steps):
            for name in names:
                mlflow.log_metric(name, values[i & (POOL - 1)], step=step)
                i += 1
    done = time.perf_counter()
    return {"events": steps * keys, "seconds": done - started, "bytes": _disk_bytes(root), "peak_rss_mb": peak_rss_mb()}


def worker_floor(steps: int, keys: int, root: str) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = [f"train/metric_{k:02d}" for k in range(keys)]
    values = _values()
    started = time.perf_counter()
    col_key: list[str] = []
    col_value: list[float] = []
    col_step: list[int] = []
    col_dt: list[int] = []
    i = 0
    now = time.time_ns
    for step in range(steps):
        for name in names:
            col_key.append(name)
            col_value.append(values[i & (POOL - 1)])
            col_step.append(step)
            col_dt.append(now())
            i += 1
    table = pa.table({"key": col_key, "value": col_value, "step": col_step, "dt": pa.array(col_dt, pa.int64())})
    pq.write_table(table, os.path.join(root, "floor.parquet"), compression="zstd")
    done = time.perf_counter()
    return {"events": steps * keys, "seconds": done - started, "bytes": _disk_bytes(root), "peak_rss_mb": peak_rss_mb()}


def run_worker(args: argparse.Namespace) -> None:
    root = tempfile.mkdtemp(prefix="bench-log-")
    try:
        if args.worker in ("log_metric", "log_metrics"):
            result = worker_eventlog(args.worker, args.steps, args.keys, root, args.durability[0])
        elif args.worker == "tensorboardx":
            result = worker_tensorboardx(args.steps, args.keys, root)
        elif args.worker == "mlflow":
            result = worker_mlflow(args.steps, args.keys, root)
        else:
            result = worker_floor(args.steps, args.keys, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result))


def spawn(worker: str, steps: int, keys: int, durability: str = "spool", pythonpath: str | None = None) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", worker, "--steps", str(steps), "--keys", str(keys), "--durability", durability]
    result = worker_result(cmd, pythonpath)
    result["load_average"] = os.getloadavg()[0]
    return result


def _plan(args: argparse.Namespace) -> list[tuple[str, str, int, str, str | None]]:
    """(label, worker, steps, durability, pythonpath) per contender."""
    plan: list[tuple[str, str, int, str, str | None]] = []
    for durability in args.durability:
        for mode in ("log_metric", "log_metrics"):
            plan.append((f"eventlog {mode} ({durability})", mode, args.steps, durability, None))
            if args.baseline:
                plan.append((f"eventlog {mode} ({durability}) @baseline", mode, args.steps, durability, args.baseline))
    plan.append(("floor: lists + pyarrow zstd", "floor", args.steps, "memory", None))
    if not args.skip_peers:
        plan.append(("tensorboardX add_scalar", "tensorboardx", args.tbx_steps, "memory", None))
        plan.append(("MLflow file store log_metric", "mlflow", args.mlflow_steps, "memory", None))
    return plan


def _median_row(label: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median run (by seconds) of a contender, with every round's µs/event and load average."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    row = {"contender": label, **ordered[len(ordered) // 2]}
    row["us_per_event"] = row["seconds"] / row["events"] * 1e6
    row["bytes_per_event"] = row["bytes"] / row["events"]
    row["all_us_per_event"] = [r["seconds"] / r["events"] * 1e6 for r in runs]
    row["load_averages"] = [r["load_average"] for r in runs]
    row["median_load_average"] = statistics.median(row["load_averages"])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=500_000, help="steps per eventlog run (x keys = events)")
    parser.add_argument("--keys", type=int, default=20)
    parser.add_argument("--tbx-steps", type=int, default=10_000)
    parser.add_argument("--mlflow-steps", type=int, default=500)
    parser.add_argument("--durability", nargs="*", default=["memory", "spool", "sync"])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median is reported")
    parser.add_argument("--baseline", help="another checkout whose eventlog also runs (before/after)")
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args)
        return

    plan = _plan(args)
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label, *_ in plan}
    for round_ in range(args.rounds):
        for label, worker, steps, durability, pythonpath in plan if round_ % 2 == 0 else plan[::-1]:
            result = spawn(worker, steps, args.keys, durability, pythonpath)
            runs[label].append(result)
            us = result["seconds"] / result["events"] * 1e6
            print(f"  round {round_ + 1}: {label}: {us:.3f} µs/event (load {result['load_average']:.2f})", file=sys.stderr)
    rows = [_median_row(label, runs[label]) for label, *_ in plan]

    reference = next((r["us_per_event"] for r in rows if r["contender"].startswith("eventlog log_metric")), None)
    header = (
        f"{'contender':<46} {'events':>11} {'µs/event':>9} {'events/s':>12} {'B/event':>8} {'peak RSS MB':>11}"
        f" {'vs log_metric':>13} {'load':>5}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        ratio = r["us_per_event"] / reference if reference else float("nan")
        r["ratio_vs_log_metric"] = ratio
        print(
            f"{r['contender']:<46} {r['events']:>11,} {r['us_per_event']:>9.3f} {r['events'] / r['seconds']:>12,.0f} "
            f"{r['bytes_per_event']:>8.2f} {r['peak_rss_mb']:>11.0f} {ratio:>12.2f}x {r['median_load_average']:>5.2f}"
        )
    RESULTS.mkdir(exist_ok=True)
    meta = {"machine": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(), "argv": sys.argv[1:]}
    (RESULTS / "bench_log.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
