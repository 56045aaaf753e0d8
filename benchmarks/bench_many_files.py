"""Many small files: `runs()` of N runs of one segment each, and one run's `data()` on S3.

Seeded data: N runs in one experiment, each one raw segment of 20 metric events written by its own
writer (`testkit.make_segment`, published with the normal `publish`, 16 threads). Measured:

- local: `runs()` over the N raw segments, and one run's `data()` over them; the dashboard's fold after one more run landed (its
  `RunsCache` keeps the rows of files it read, so it reads only the new segment); `runs()` after `compact` (covered segments still listed,
  as readers see them until gc), then after gc deleted them (forced with no grace period here:
  the state once the grace period has passed, as `compact --watch --gc-grace` leaves it);
- S3 (a `moto_server` on 127.0.0.1 in its own process): one run's `data()` over the raw segments,
  then after `compact` into `COMPACTED_FILES` files (each a band of runs, named in the manifest),
  then after gc, with the number of HTTP requests the server logged for each call; with `--rgw-runs N` the same on Ceph's S3 gateway (started with scripts/rgw/start.sh,
  installed by `make test-integration`), whose listings cost what a real object store's do
  (moto answers a page of 1,000 keys slowly), without request counts.

Each figure is the median of `--rounds` rounds in this process, with the 1-minute load average
beside it (the machine is shared).

`--baseline DIR` also times one run's `data()` (locally over the raw segments, on S3 in every
state) with the eventlog of another checkout (DIR first on PYTHONPATH, in its own process per round, a warm-up call first, rounds
alternating with this checkout's), for before/after on the same store.

    .venv/bin/python benchmarks/bench_many_files.py                              # 10,000 local, 1,000 on S3
    .venv/bin/python benchmarks/bench_many_files.py --runs 1000 --s3-runs 200    # quick
    .venv/bin/python benchmarks/bench_many_files.py --s3-runs 10000 --baseline /tmp/before

Prints a table and writes benchmarks/results/bench_many_files.json (a part not measured, such as
`local` with `--runs 0`, keeps its figures from the file).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _common import start_moto, worker_result

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
RESULTS = Path(__file__).parent / "results"
EXPERIMENT = "bench"
EVENTS = 20
#: The compacted files the S3 stores are compacted into (so that a one-run read can skip some).
COMPACTED_FILES = 10


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


def compact(uri: str, **policy: Any) -> float:
    """Compact the experiment (`policy`: `compact`'s options); returns the seconds it took."""
    from eventlog.compaction.compactor import compact as run_compact
    from eventlog.core.store import open_store

    started = time.perf_counter()
    run_compact(open_store(uri), EXPERIMENT, **policy)
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
    return summarise([measure(call, requests) for _ in range(rounds)])


def measure(call: Callable[[], Any], requests: Callable[[], int] | None = None) -> dict[str, Any]:
    """One call: its seconds, the requests the server logged for it (if counted) and the load."""
    before = requests() if requests else 0
    started = time.perf_counter()
    call()
    out: dict[str, Any] = {"seconds": time.perf_counter() - started}
    if requests:
        time.sleep(0.3)  # the server logs a request after answering it
        out["requests"] = requests() - before
    out["load"] = os.getloadavg()[0]
    return out


def summarise(measured: list[dict[str, Any]]) -> dict[str, Any]:
    """The medians of measured rounds (seconds, requests, load) and every round's seconds."""
    seconds = [m["seconds"] for m in measured]
    out: dict[str, Any] = {"seconds": statistics.median(seconds), "rounds": seconds, "load": statistics.median(m["load"] for m in measured)}
    if "requests" in measured[0]:
        out["requests"] = int(statistics.median(m["requests"] for m in measured))
    return out


def one_run(uri: str, run: int) -> None:
    """One run's `data()`, checked."""
    from query import data

    assert data(uri, EXPERIMENT, run=run).height == EVENTS


def worker(uri: str, run: int, log: str | None) -> None:
    """Another checkout's one-run `data()`: a warm-up call, then one measured; prints its JSON."""
    requests = (lambda: count_requests(Path(log))) if log else None
    one_run(uri, run)
    print(json.dumps(measure(lambda: one_run(uri, run), requests)))


def count_requests(log: Path) -> int:
    """The requests a moto server logged so far (answered with a 2xx or 4xx status)."""
    return sum(1 for line in log.read_text(errors="replace").splitlines() if '" 2' in line or '" 4' in line)


def side_by_side(uri: str, run: int, rounds: int, baseline: str | None, log: Path | None = None) -> dict[str, Any]:
    """One run's `data()` with this checkout (in this process) and, alternating, with `baseline`'s."""
    requests = (lambda: count_requests(log)) if log else None
    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    for _ in range(rounds):
        ours.append(measure(lambda: one_run(uri, run), requests))
        if baseline:
            theirs.append(spawn_worker(uri, run, baseline, log))
    out = summarise(ours)
    if baseline:
        out["baseline"] = summarise(theirs)
    return out


def spawn_worker(uri: str, run: int, baseline: str, log: Path | None) -> dict[str, Any]:
    """`worker` with `baseline` first on PYTHONPATH, in its own process."""
    cmd = [sys.executable, __file__, "--worker", uri, "--worker-run", str(run)] + (["--worker-log", str(log)] if log else [])
    return worker_result(cmd, baseline)


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


def bench_local(runs: int, rounds: int, baseline: str | None) -> dict[str, Any]:
    """runs() over N raw segments, then compacted; one run's data() over the raw segments."""
    from query import runs as runs_of

    with tempfile.TemporaryDirectory(prefix="bench-many-files-") as root:
        uri = str(Path(root) / "store")
        out: dict[str, Any] = {"runs": runs, "generate_s": generate(uri, runs)}
        check = runs_of(uri, EXPERIMENT)
        assert check.height == runs, check.height
        out["raw"] = timed(lambda: runs_of(uri, EXPERIMENT), rounds)
        one_run(uri, runs // 2)
        out["raw_one_run"] = side_by_side(uri, runs // 2, rounds, baseline)
        out["dashboard"] = dashboard_refresh(uri, runs, rounds)
        runs += rounds  # the refreshes added one run each
        out["compact_s"] = compact(uri)
        assert runs_of(uri, EXPERIMENT).height == runs
        out["compacted"] = timed(lambda: runs_of(uri, EXPERIMENT), rounds)
        out["gc_s"] = collect(uri)
        assert runs_of(uri, EXPERIMENT).height == runs
        out["collected"] = timed(lambda: runs_of(uri, EXPERIMENT), rounds)
        return out


def bench_s3(runs: int, rounds: int, baseline: str | None) -> dict[str, Any]:
    """One run's data() over N raw segments on moto, then compacted, with request counts."""
    with tempfile.TemporaryDirectory(prefix="bench-many-files-s3-") as tmp:
        log = Path(tmp) / "moto.log"
        proc, endpoint = start_moto(log)
        try:
            return s3_phases(endpoint, ("testing", "testing"), runs, rounds, baseline, log)
        finally:
            proc.terminate()
            proc.wait()


def bench_rgw(runs: int, rounds: int, baseline: str | None) -> dict[str, Any]:
    """The same on Ceph's S3 gateway (scripts/rgw/start.sh; `make test-integration` installs it), without request counts."""
    repo = Path(__file__).resolve().parents[1]
    base = tempfile.mkdtemp(prefix="bench-many-files-rgw-")
    env = dict(os.environ, RGW_BASE=base)
    subprocess.run(["bash", str(repo / "scripts/rgw/start.sh")], check=True, env=env, stdout=subprocess.DEVNULL)
    try:
        settings = dict(line.split("=", 1) for line in (Path(base) / "env").read_text().split())
        return s3_phases(settings["RGW_ENDPOINT"], (settings["RGW_ACCESS_KEY"], settings["RGW_SECRET_KEY"]), runs, rounds, baseline)
    finally:
        subprocess.run(["bash", str(repo / "scripts/rgw/stop.sh")], check=False, env=env, stdout=subprocess.DEVNULL)


def s3_phases(endpoint: str, keys: tuple[str, str], runs: int, rounds: int, baseline: str | None, log: Path | None = None) -> dict[str, Any]:
    """One run's data() over N raw segments on an S3 server, then compacted, then after gc (with
    the requests the server logged when `log` is its request log)."""
    os.environ.update(AWS_ACCESS_KEY_ID=keys[0], AWS_SECRET_ACCESS_KEY=keys[1], AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=endpoint)
    import boto3

    from eventlog.core.manifest import load_latest
    from eventlog.core.store import open_store
    from query import data

    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    uri = f"s3://{bucket}/store"
    out: dict[str, Any] = {"runs": runs, "generate_s": generate(uri, runs)}
    one = runs // 2
    assert data(uri, EXPERIMENT, run=one).height == EVENTS
    out["raw"] = side_by_side(uri, one, rounds, baseline, log)
    out["compact_s"] = compact(uri, max_events=max(EVENTS, runs * EVENTS // COMPACTED_FILES))
    out["compacted_files"] = len(load_latest(open_store(uri)).files)
    assert data(uri, EXPERIMENT, run=one).height == EVENTS
    out["compacted"] = side_by_side(uri, one, rounds, baseline, log)
    out["gc_s"] = collect(uri)
    assert data(uri, EXPERIMENT, run=one).height == EVENTS
    out["collected"] = side_by_side(uri, one, rounds, baseline, log)
    return out


def print_table(results: dict[str, Any]) -> None:
    """One line per figure: what, N, median seconds, requests, load."""
    print(f"{'measure':<44} {'N':>7} {'median s':>9} {'requests':>9} {'load':>5}")
    for label, key, what in (("local", "local", "runs()"), ("s3", "s3", "data() one run"), ("rgw", "rgw", "data() one run")):
        part = results.get(key)
        if not part:
            continue
        for phase in ("raw", "raw_one_run", "dashboard", "compacted", "collected"):
            if phase not in part:
                continue
            row = part[phase]
            name = label + " " + ("data() one run" if phase == "raw_one_run" else what) + " " + phase
            for suffix, figures in (("", row), (" @baseline", row.get("baseline"))):
                if figures:
                    print(
                        f"{name + suffix:<44} {part['runs']:>7,} {figures['seconds']:>9.3f} {figures.get('requests', ''):>9} {figures['load']:>5.2f}"
                    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000, help="runs (one segment each) for runs() locally (0: skip)")
    parser.add_argument("--s3-runs", type=int, default=1_000, help="runs (one segment each) on moto S3 (0: skip)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rgw-runs", type=int, default=0, help="runs (one segment each) on Ceph RGW, started here (0: skip)")
    parser.add_argument("--baseline", help="another checkout whose one-run data() also runs (before/after)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # a store URI: run `worker` on it
    parser.add_argument("--worker-run", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker-log", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.worker_run, args.worker_log)
        return
    results: dict[str, Any] = {"machine": platform.platform(), "cpus": os.cpu_count(), "events_per_run": EVENTS}
    commit = None
    if args.baseline:  # the commit it holds, as tables name it (per part: a part not measured keeps its own)
        commit = subprocess.run(["git", "-C", args.baseline, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip() or args.baseline
    for part, size, bench in (("local", args.runs, bench_local), ("s3", args.s3_runs, bench_s3), ("rgw", args.rgw_runs, bench_rgw)):
        if size:
            results[part] = bench(size, args.rounds, args.baseline) | ({"baseline": commit} if commit else {})
    print_table(results)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "bench_many_files.json"
    kept = json.loads(path.read_text()) if path.exists() else {}  # the parts not measured this time (`--runs 0`, ...)
    path.write_text(json.dumps(kept | results, indent=2))


if __name__ == "__main__":
    main()
