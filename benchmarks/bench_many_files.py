"""Many small files: `runs()` of N runs of one segment each, and one run's `data()` on S3.

Seeded data: N runs in one experiment, each one raw segment of 20 metric events written by its own
writer (`testkit.make_segment`, published with the normal `publish`, 16 threads). Measured:

- local: `runs()` over the N raw segments; the dashboard's fold after one more run landed (its
  `RunsCache` keeps the rows of files it read, so it reads only the new segment); `runs()` after `compact` (covered segments still listed,
  as readers see them until gc), then after gc deleted them (forced with no grace period here:
  the state once the grace period has passed, as `compact --watch --gc-grace` leaves it);
- S3 (a `moto_server` on 127.0.0.1 in its own process): one run's `data()` over the raw segments,
  then after `compact`, then after gc, with the number of HTTP requests the server logged for
  each call.

Each figure is the median of `--rounds` rounds in this process, with the 1-minute load average
beside it (the machine is shared).

    .venv/bin/python benchmarks/bench_many_files.py                              # 10,000 local, 1,000 on S3
    .venv/bin/python benchmarks/bench_many_files.py --runs 1000 --s3-runs 200    # quick

Prints a table and writes benchmarks/results/bench_many_files.json.
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
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _common import start_moto

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
RESULTS = Path(__file__).parent / "results"
EXPERIMENT = "bench"
EVENTS = 20


def generate(uri: str, runs: int) -> float:
    """Publish `runs` one-segment runs (run i by writer w<i>); returns the seconds it took."""
    from eventlog.core.segment import publish
    from eventlog.core.store import open_store
    from testkit import make_segment

    store = open_store(uri)
    started = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: publish(store, make_segment(EXPERIMENT, f"w{i:06d}", 0, EVENTS, run=i + 1)), range(runs)))
    return time.perf_counter() - started


def compact(uri: str) -> float:
    """Compact the experiment; returns the seconds it took."""
    from eventlog.compaction.compactor import compact as run_compact
    from eventlog.core.store import open_store

    started = time.perf_counter()
    run_compact(open_store(uri), EXPERIMENT)
    return time.perf_counter() - started


def collect(uri: str) -> float:
    """Delete the covered segments at once (grace 0, forced); returns the seconds it took."""
    from eventlog.compaction.gc import collect_garbage
    from eventlog.core.store import open_store

    started = time.perf_counter()
    collect_garbage(open_store(uri), grace=0, force=True, dry_run=False)
    return time.perf_counter() - started


def timed(call: Callable[[], Any], rounds: int, requests: Callable[[], int] | None = None) -> dict[str, Any]:
    """The median seconds (and requests) of `rounds` calls, with the load average of each round."""
    seconds, counts, loads = [], [], []
    for _ in range(rounds):
        before = requests() if requests else 0
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
        if requests:
            time.sleep(0.3)  # the server logs a request after answering it
            counts.append(requests() - before)
        loads.append(os.getloadavg()[0])
    out: dict[str, Any] = {"seconds": statistics.median(seconds), "rounds": seconds, "load": statistics.median(loads)}
    if requests:
        out["requests"] = int(statistics.median(counts))
    return out


def dashboard_refresh(uri: str, runs: int, rounds: int) -> dict[str, Any]:
    """The dashboard's fold after one more run landed, with the rows of files already read kept."""
    from eventlog.core.segment import publish
    from eventlog.core.store import open_store
    from eventlog.ui.runs_view import RunsCache
    from testkit import make_segment

    store = open_store(uri)
    cache = RunsCache(store)
    cache.get(EXPERIMENT)  # the first fold reads every file
    added = iter(range(runs, runs + rounds))

    def refresh() -> None:
        run = next(added)
        publish(store, make_segment(EXPERIMENT, f"w{run:06d}", 0, EVENTS, run=run + 1))
        assert cache.get(EXPERIMENT).table.height == run + 1

    return timed(refresh, rounds)


def bench_local(runs: int, rounds: int) -> dict[str, Any]:
    """runs() over N raw segments, then compacted."""
    from query import runs as runs_of

    with tempfile.TemporaryDirectory(prefix="bench-many-files-") as root:
        uri = str(Path(root) / "store")
        out: dict[str, Any] = {"runs": runs, "generate_s": generate(uri, runs)}
        check = runs_of(uri, EXPERIMENT)
        assert check.height == runs, check.height
        out["raw"] = timed(lambda: runs_of(uri, EXPERIMENT), rounds)
        out["dashboard"] = dashboard_refresh(uri, runs, rounds)
        runs += rounds  # the refreshes added one run each
        out["compact_s"] = compact(uri)
        assert runs_of(uri, EXPERIMENT).height == runs
        out["compacted"] = timed(lambda: runs_of(uri, EXPERIMENT), rounds)
        out["gc_s"] = collect(uri)
        assert runs_of(uri, EXPERIMENT).height == runs
        out["collected"] = timed(lambda: runs_of(uri, EXPERIMENT), rounds)
        return out


def bench_s3(runs: int, rounds: int) -> dict[str, Any]:
    """One run's data() over N raw segments on moto, then compacted, with request counts."""
    with tempfile.TemporaryDirectory(prefix="bench-many-files-s3-") as tmp:
        log = Path(tmp) / "moto.log"
        proc, endpoint = start_moto(log)
        try:
            os.environ.update(
                AWS_ACCESS_KEY_ID="testing",
                AWS_SECRET_ACCESS_KEY="testing",
                AWS_DEFAULT_REGION="us-east-1",
                AWS_ENDPOINT_URL=endpoint,
            )
            import boto3

            from query import data

            bucket = f"bench-{uuid.uuid4().hex[:8]}"
            boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
            uri = f"s3://{bucket}/store"

            def requests() -> int:
                return sum(1 for line in log.read_text(errors="replace").splitlines() if '" 2' in line or '" 4' in line)

            out: dict[str, Any] = {"runs": runs, "generate_s": generate(uri, runs)}
            one = runs // 2
            assert data(uri, EXPERIMENT, run=one).height == EVENTS
            out["raw"] = timed(lambda: data(uri, EXPERIMENT, run=one), rounds, requests)
            out["compact_s"] = compact(uri)
            assert data(uri, EXPERIMENT, run=one).height == EVENTS
            out["compacted"] = timed(lambda: data(uri, EXPERIMENT, run=one), rounds, requests)
            out["gc_s"] = collect(uri)
            assert data(uri, EXPERIMENT, run=one).height == EVENTS
            out["collected"] = timed(lambda: data(uri, EXPERIMENT, run=one), rounds, requests)
            return out
        finally:
            proc.terminate()
            proc.wait()


def print_table(results: dict[str, Any]) -> None:
    """One line per figure: what, N, median seconds, requests, load."""
    print(f"{'measure':<34} {'N':>7} {'median s':>9} {'requests':>9} {'load':>5}")
    for label, key, what in (("local", "local", "runs()"), ("s3", "s3", "data() one run")):
        part = results.get(key)
        if not part:
            continue
        for phase in ("raw", "dashboard", "compacted", "collected"):
            if phase not in part:
                continue
            row = part[phase]
            print(
                f"{label + ' ' + what + ' ' + phase:<34} {part['runs']:>7,} {row['seconds']:>9.3f} {row.get('requests', ''):>9} {row['load']:>5.2f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000, help="runs (one segment each) for runs() locally")
    parser.add_argument("--s3-runs", type=int, default=1_000, help="runs (one segment each) on moto S3 (0: skip)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": platform.platform(), "cpus": os.cpu_count(), "events_per_run": EVENTS}
    results["local"] = bench_local(args.runs, args.rounds)
    if args.s3_runs:
        results["s3"] = bench_s3(args.s3_runs, args.rounds)
    print_table(results)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_many_files.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
