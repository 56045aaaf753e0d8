"""Compaction benchmark: merge throughput, and query times before vs after compaction.

Seeded data: SEGMENTS raw segments of EVENTS metric events each in one partition, written
round-robin by 8 writers (each writer is its own run, 8 keys). Then, each phase in its own
subprocess: `summary()` and a one-run `data()` over the raw segments (best of 3), `compact()`
(events/s, MB/s of input, peak RSS), the same queries over the compacted files right after
compaction (the covered segments are still listed, as readers see them until gc), then `gc` with
no grace period and the queries once more (what readers see once gc has run). The same runs on a
moto S3 server (`moto_server`, its own process) with fewer segments.

    .venv/bin/python benchmarks/bench_compact.py                                  # full: 2,000 x 5,000 local, 200 x 5,000 on S3
    .venv/bin/python benchmarks/bench_compact.py --segments 200 --s3-segments 40  # quick

The read_* rows are the floors: reading only the columns (rows) a query reads, nothing else. The
sort and grouping after the read cost the same with 2,000 files or 11, so a floor's ratio bounds
the ratio of its query.

Prints a table (ratio = before / after) and writes benchmarks/results/bench_compact.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from _common import peak_rss_mb, start_moto

RESULTS = Path(__file__).parent / "results"
WRITERS = 8
EXPERIMENT = "bench"



def generate(uri: str, segments: int, events: int) -> dict[str, Any]:
    """Publish the seeded segments (writer i is run i + 1)."""
    from eventlog.core.segment import publish
    from eventlog.core.store import open_store
    from testkit import make_segment

    store = open_store(uri)
    started = time.perf_counter()
    for index in range(segments):
        writer = index % WRITERS
        publish(store, make_segment(EXPERIMENT, f"writer{writer}", (index // WRITERS) * events, events, run=writer + 1))
    return {"seconds": time.perf_counter() - started, "events": segments * events}


def worker_query(uri: str, repeat: int) -> dict[str, Any]:
    """Best-of-`repeat` times of summary() and a one-run data()."""
    import query
    from query.data import DATA_COLUMNS
    from query.scan import scan

    timings: dict[str, Any] = {}
    # The read floors: only reading what each query reads (no grouping, no sort). Compaction
    # changes this part; what follows it costs the same before and after, so the ratio of a
    # floor bounds the ratio its query can reach.
    summary_columns = ["event", "key", "value", "step", "dt", "seq"]
    for name, call in (
        ("summary", lambda: query.summary(uri, EXPERIMENT)),
        ("data_one_run", lambda: query.data(uri, EXPERIMENT, run=3)),
        ("read_summary_columns", lambda: scan(uri, EXPERIMENT).select(summary_columns).collect(engine="streaming")),
        ("read_one_run", lambda: scan(uri, EXPERIMENT, run=3).select([*DATA_COLUMNS, "extra", "seq"]).collect(engine="streaming")),
    ):
        best = float("inf")
        rows = 0
        try:
            for _ in range(repeat):
                started = time.perf_counter()
                rows = call().height
                best = min(best, time.perf_counter() - started)
        except Exception as exc:  # report the failure and carry on with the other figures
            timings[name] = {"seconds": float("nan"), "rows": 0, "error": f"{type(exc).__name__}: {exc}"}
            continue
        timings[name] = {"seconds": best, "rows": rows}
    timings["files"] = len(query.files(uri, EXPERIMENT))
    timings["peak_rss_mb"] = peak_rss_mb()
    return timings


def worker_compact(uri: str) -> dict[str, Any]:
    """One compaction of everything."""
    from eventlog.compaction.compactor import compact
    from eventlog.core.store import open_store

    cpu = time.process_time()
    report = compact(open_store(uri), EXPERIMENT)
    cpu = time.process_time() - cpu
    return {
        "seconds": report.seconds,
        "cpu_seconds": cpu,  # all threads: what the merge costs whatever else runs on the machine
        "events": report.events,
        "files_merged": report.files_merged,
        "files_written": report.files_written,
        "bytes_in": report.bytes_in,
        "bytes_out": report.bytes_out,
        "events_per_s": report.events_per_second,
        "mb_per_s": report.bytes_in / 1e6 / report.seconds if report.seconds else 0.0,
        "peak_rss_mb": peak_rss_mb(),
    }


def worker_gc(uri: str) -> dict[str, Any]:
    """gc without a grace period (nothing else runs): deletes the covered segments."""
    from eventlog.compaction.gc import collect_garbage
    from eventlog.core.store import open_store

    report = collect_garbage(open_store(uri), grace=0.0, dry_run=False, force=True)
    return {"seconds": report.seconds, "deleted": len(report.files)}


def _subprocess(phase: str, uri: str, env: dict[str, str], *extra: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", phase, "--uri", uri, *extra],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{phase} worker failed:\n{out.stderr}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run_backend(label: str, uri: str, segments: int, events: int, repeat: int, env: dict[str, str]) -> dict[str, Any]:
    """Generate, query, compact, query again; each phase in its own subprocess."""
    generated = _subprocess("generate", uri, env, "--segments", str(segments), "--events", str(events))
    before = _subprocess("query", uri, env, "--repeat", str(repeat))
    compacted = _subprocess("compact", uri, env)
    after = _subprocess("query", uri, env, "--repeat", str(repeat))
    collected = _subprocess("gc", uri, env)
    after_gc = _subprocess("query", uri, env, "--repeat", str(repeat))
    return {"backend": label, "segments": segments, "events_per_segment": events, "generate": generated,
            "before": before, "compact": compacted, "after": after, "gc": collected, "after_gc": after_gc}



def print_table(results: list[dict[str, Any]]) -> None:
    print(f"{'backend':<8} {'query':<20} {'before s':>9} {'after s':>9} {'ratio':>7} {'after gc s':>11} {'ratio':>7} {'files':>12}")
    for r in results:
        for name in ("summary", "data_one_run", "read_summary_columns", "read_one_run"):
            b, a, g = (r[phase][name]["seconds"] for phase in ("before", "after", "after_gc"))
            files = f"{r['before']['files']}->{r['after']['files']}"
            print(f"{r['backend']:<8} {name:<20} {b:>9.3f} {a:>9.3f} {b / a:>6.1f}x {g:>11.3f} {b / g:>6.1f}x {files:>12}")
    print()
    print(f"{'backend':<8} {'events':>11} {'seconds':>8} {'CPU s':>6} {'M events/s':>11} {'MB/s in':>8} {'MB in->out':>14} {'peak RSS MB':>12}")
    for r in results:
        c = r["compact"]
        print(
            f"{r['backend']:<8} {c['events']:>11,} {c['seconds']:>8.2f} {c['cpu_seconds']:>6.2f} {c['events_per_s'] / 1e6:>11.2f} {c['mb_per_s']:>8.1f} "
            f"{c['bytes_in'] / 1e6:>6.1f}->{c['bytes_out'] / 1e6:<6.1f} {c['peak_rss_mb']:>12.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, default=2000, help="raw segments on local disk")
    parser.add_argument("--events", type=int, default=5000, help="events per segment")
    parser.add_argument("--s3-segments", type=int, default=200, help="raw segments on moto S3 (0: skip S3)")
    parser.add_argument("--repeat", type=int, default=3, help="query repetitions (best is reported)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--uri", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        if args.worker == "generate":
            result = generate(args.uri, args.segments, args.events)
        elif args.worker == "query":
            result = worker_query(args.uri, args.repeat)
        elif args.worker == "gc":
            result = worker_gc(args.uri)
        else:
            result = worker_compact(args.uri)
        print(json.dumps(result))
        return
    results = []
    workdir = tempfile.mkdtemp(prefix="bench_compact-")
    env = dict(os.environ)
    try:
        results.append(run_backend("local", f"{workdir}/store", args.segments, args.events, args.repeat, env))
        if args.s3_segments:
            proc, endpoint = start_moto()
            try:
                import boto3

                s3_env = {**env, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                          "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
                bucket = f"bench-{uuid.uuid4().hex[:8]}"
                boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing",
                             region_name="us-east-1").create_bucket(Bucket=bucket)
                results.append(run_backend("moto-s3", f"s3://{bucket}/store", args.s3_segments, args.events, args.repeat, s3_env))
            finally:
                proc.terminate()
                proc.wait(timeout=10)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print_table(results)
    RESULTS.mkdir(exist_ok=True)
    out = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
           "command": " ".join([Path(sys.executable).name, *sys.argv]), "results": results}
    (RESULTS / "bench_compact.json").write_text(json.dumps(out, indent=2))
    print(f"\nwrote {RESULTS / 'bench_compact.json'}")


if __name__ == "__main__":
    main()
