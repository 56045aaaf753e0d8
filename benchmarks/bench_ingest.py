"""Collector benchmark: clients on loopback sending msgpack event batches to `eventlog serve`.

The collector runs in its own process (`ingest.collector.serve` on a local store); 1 to 16 client
processes each send batches of 1,000 or 10,000 metric events over one keep-alive connection and
time every acknowledged batch (an answer means the batch is a durable segment). Bodies are encoded
before the clock starts, so the figures are the server's: events/s, p50/p99 latency per batch, and
the server's RSS. The peer is the direct write path in one process (the same batches validated,
encoded and published with create-if-absent, no HTTP): the ratio column is collector / direct.
Both batch shapes are measured: `columns` (what the remote logger sends) and `rows`.

    .venv/bin/python benchmarks/bench_ingest.py --size small     # seconds; for validation
    .venv/bin/python benchmarks/bench_ingest.py --size full      # 1-16 clients, 1k and 10k batches

Prints a table and writes benchmarks/results/bench_ingest.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import free_port

RESULTS = Path(__file__).parent / "results"
SIZES = {
    "small": {"clients": [1, 2], "batches": [1000, 10_000], "events_per_client": 50_000},
    "full": {"clients": [1, 2, 4, 8, 16], "batches": [1000, 10_000], "events_per_client": 200_000},
}


def make_bodies(client: int, batch: int, total: int, seed: int, shape: str = "columns") -> list[bytes]:
    """Pre-encoded batch bodies of seeded metric events for one client (its own writer id)."""
    import eventlog  # noqa: F401  (initialises the core before ingest)
    from eventlog.core.event import Event
    from ingest.wire import encode_batch, encode_columns

    rng = random.Random(seed)
    now = time.time_ns()
    writer = f"bench-{seed}-{client}"
    bodies = []
    seq = 0
    keys = [f"train/metric_{k:02d}" for k in range(10)]
    while seq < total:
        events = [
            Event(
                "bench",
                client + 1,
                i // 10,
                "metric",
                keys[i % 10],
                rng.random(),
                None,
                now + i,
                "node",
                "user",
                None,
                writer,
                seq + i,
            )
            for i in range(min(batch, total - seq))
        ]
        if shape == "rows":
            bodies.append(encode_batch(events))
        else:
            fields = Event.__struct_fields__[:-1]  # no extra
            bodies.append(encode_columns({name: [getattr(e, name) for e in events] for name in fields}))
        seq += len(events)
    return bodies


def client_main(port: int, client: int, batch: int, total: int, seed: int, shape: str) -> None:
    """One client process: send every body, print per-batch latencies as JSON."""
    bodies = make_bodies(client, batch, total, seed, shape)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Content-Type": "application/msgpack", "Authorization": "Bearer bench"}
    print("ready", flush=True)
    sys.stdin.readline()  # start together
    latencies = []
    start = time.perf_counter()
    for body in bodies:
        t0 = time.perf_counter()
        conn.request("POST", "/v1/events", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"HTTP {response.status}")
        latencies.append(time.perf_counter() - t0)
    print(json.dumps({"start": start, "end": time.perf_counter(), "latencies": latencies, "events": total}), flush=True)


def direct_main(batch: int, total: int, seed: int, shape: str) -> None:
    """The peer: the same batches decoded, validated and published in-process (no HTTP)."""
    from eventlog.core.segment import publish
    from eventlog.core.store import open_store
    from ingest.wire import decode_batch, segments_from_columns

    bodies = make_bodies(0, batch, total, seed, shape)
    root = tempfile.mkdtemp(prefix="bench-direct-")
    store = open_store(root)
    for body in _warmup_bodies(shape):  # imports and first-call costs, as the server's warm-up
        for segment in segments_from_columns(decode_batch(body)):
            publish(store, segment)
    latencies = []
    start = time.perf_counter()
    for body in bodies:
        t0 = time.perf_counter()
        for segment in segments_from_columns(decode_batch(body)):
            publish(store, segment)
        latencies.append(time.perf_counter() - t0)
    end = time.perf_counter()
    shutil.rmtree(root, ignore_errors=True)
    print(json.dumps({"start": start, "end": end, "latencies": latencies, "events": total}), flush=True)


def _warmup_bodies(shape: str) -> list[bytes]:
    return make_bodies(999, 1000, 3000, 1, shape)


def _warm_up(port: int, shape: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for body in _warmup_bodies(shape):
        conn.request("POST", "/v1/events", body=body, headers={"Authorization": "Bearer bench"})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"warm-up batch got HTTP {response.status}")
    conn.close()



def _wait_listening(port: int, server: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("collector did not start")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_case(clients: int, batch: int, total: int, seed: int, shape: str) -> dict[str, Any]:
    """Start a collector process, run `clients` client processes against it, collect figures."""
    import psutil

    root = tempfile.mkdtemp(prefix="bench-ingest-")
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import eventlog; from ingest.collector import serve; serve({root!r}, port={port}, token='bench')",
        ],
    )
    try:
        _wait_listening(port, server)
        _warm_up(port, shape)
        procs = [
            subprocess.Popen(
                [sys.executable, __file__, "--client", str(port), str(c), str(batch), str(total), str(seed), shape],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for c in range(clients)
        ]
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            out, _ = proc.communicate(timeout=1800)
            if proc.returncode != 0:
                raise RuntimeError(f"client failed with {proc.returncode}")
            results.append(json.loads(out.strip().splitlines()[-1]))
        rss_mb = psutil.Process(server.pid).memory_info().rss / 2**20
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(root, ignore_errors=True)
    return _figures(results, clients, batch) | {"shape": shape, "server_rss_mb": round(rss_mb, 1)}


def run_direct(batch: int, total: int, seed: int, shape: str) -> dict[str, Any]:
    """The peer in its own subprocess."""
    out = subprocess.run(
        [sys.executable, __file__, "--direct", str(batch), str(total), str(seed), shape],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return _figures([json.loads(out.strip().splitlines()[-1])], 1, batch) | {"shape": shape, "server_rss_mb": None}


def _figures(results: list[dict[str, Any]], clients: int, batch: int) -> dict[str, Any]:
    events = sum(r["events"] for r in results)
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    latencies = [x for r in results for x in r["latencies"]]
    return {
        "clients": clients,
        "batch": batch,
        "events": events,
        "seconds": round(wall, 3),
        "events_per_s": round(events / wall),
        "p50_ms": round(_percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--client", nargs=6, help=argparse.SUPPRESS)
    parser.add_argument("--direct", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        port, client, batch, total, seed = map(int, args.client[:5])
        client_main(port, client, batch, total, seed, args.client[5])
        return
    if args.direct:
        batch, total, seed = map(int, args.direct[:3])
        direct_main(batch, total, seed, args.direct[3])
        return
    size = SIZES[args.size]
    rows = []
    for shape, batch in [(shape, batch) for shape in ("columns", "rows") for batch in size["batches"]]:
        peer = run_direct(batch, size["events_per_client"], args.seed, shape)
        rows.append({"contender": "direct (peer)", **peer, "ratio": 1.0})
        print(_line(rows[-1]), flush=True)
        for clients in size["clients"]:
            case = run_case(clients, batch, size["events_per_client"], args.seed, shape)
            rows.append({"contender": "collector", **case, "ratio": round(case["events_per_s"] / peer["events_per_s"], 2)})
            print(_line(rows[-1]), flush=True)
    print()
    header = f"{'contender':<14} {'shape':<8} {'clients':>7} {'batch':>6} {'events':>9} {'events/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'RSS MB':>7} {'vs direct':>9}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(_line(row))
    RESULTS.mkdir(exist_ok=True)
    out = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "size": args.size,
        "rows": rows,
    }
    (RESULTS / "bench_ingest.json").write_text(json.dumps(out, indent=2))
    print(f"\nwrote {RESULTS / 'bench_ingest.json'}")


def _line(row: dict[str, Any]) -> str:
    rss = "-" if row["server_rss_mb"] is None else f"{row['server_rss_mb']:.0f}"
    return (
        f"{row['contender']:<14} {row['shape']:<8} {row['clients']:>7} {row['batch']:>6} {row['events']:>9} {row['events_per_s']:>10,} "
        f"{row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} {rss:>7} {row['ratio']:>9.2f}"
    )


if __name__ == "__main__":
    main()
