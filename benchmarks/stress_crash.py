"""Crash stress: kill -9 a logging process at random moments, recover, count exactly-once.

Each trial starts a child process that logs metric `x` with step = value = 0, 1, 2, ... in random
batches, calls `flush()` after each batch and prints `ack <n>` once `flush()` has returned (the
first n events are acknowledged). Background flushes run every 20 ms as well, so the kill lands
anywhere: in the hot path, while encoding, between the spool write and the publish, inside a
publish. The parent kills the child with SIGKILL a random delay after its first acknowledged flush, runs recovery, reads every
segment of the store back and counts:

- lost: acknowledged steps (< n) that are not in the store;
- duplicated: events present more than once (same step, or same (writer, seq));
- recovered: events that only recovery published (they reached the spool, not the store).

    .venv/bin/python benchmarks/stress_crash.py --trials 100          # the full run (about 3 min)
    .venv/bin/python benchmarks/stress_crash.py --trials 5 --durability sync

Prints a table and a summary line, writes benchmarks/results/stress_crash.json. It also
measures the spool's size per event and recovery speed (events/s) on a synthetic dead writer's
spool (`--recovery-events`, default 1,000,000).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
EXPERIMENT = "crash"


def child(uri: str, seed: int, durability: str) -> None:
    """The victim: log in random batches, print `ack <n>` after each successful flush()."""
    import eventlog

    rng = random.Random(seed)
    log = eventlog.open(uri, flush_every=0.02, max_events=5_000, durability=durability, recover=False)
    exp = log.experiment(EXPERIMENT)
    exp.start()
    print(f"run {exp.run}", flush=True)
    i = 0
    while True:
        for _ in range(rng.randint(1, 3_000)):
            exp.log_metric("x", float(i), step=i)
            i += 1
        exp.flush()
        print(f"ack {i}", flush=True)


def read_events(uri: str) -> list[tuple[str, int, str, int | None]]:
    """(writer, seq, event, step) of every event in every raw segment of the store."""
    import pyarrow.parquet as pq

    from eventlog.core.store import open_store

    store = open_store(uri)
    rows: list[tuple[str, int, str, int | None]] = []
    for info in store.find("seg"):
        if not info.path.endswith(".parquet"):
            continue
        table = pq.read_table(io.BytesIO(store.read(info.path)), columns=["writer", "seq", "event", "step"])
        rows.extend(zip(*(table.column(c).to_pylist() for c in ("writer", "seq", "event", "step"))))
    return rows


def run_trial(workdir: str, seed: int, *, durability: str = "spool", max_delay: float = 1.5) -> dict[str, Any]:
    """One trial: start the child, SIGKILL it after a random delay, recover, count. Returns the counts."""
    from eventlog.core.store import open_store
    from ingest.recovery import recover_spools

    rng = random.Random(seed)
    uri = os.path.join(workdir, f"store-{seed}")
    spool = os.path.join(workdir, f"spool-{seed}")
    env = {**os.environ, "EVENTLOG_SPOOL_DIR": spool, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, os.path.abspath(__file__), "--child", uri, "--seed", str(seed), "--durability", durability]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()  # "run 1": the child is up and logging
    first_ack = proc.stdout.readline()  # its first acknowledged flush: from here on, kill at random
    if not first.startswith("run ") or not first_ack.startswith("ack "):
        proc.kill()
        raise RuntimeError(f"child failed to start: {first!r} {first_ack!r} {proc.communicate()[1][-2000:]}")
    time.sleep(rng.uniform(0.0, max_delay))  # the random kill moment (the harness's clock, not a wait on a thread)
    os.kill(proc.pid, signal.SIGKILL)
    out, err = proc.communicate()
    if proc.returncode != -signal.SIGKILL:  # it died of something else: the trial would prove nothing
        raise RuntimeError(f"child exited with {proc.returncode} before the kill: {err[-2000:]}")
    acks = [int(line.split()[1]) for line in [first_ack, *out.splitlines()] if line.startswith("ack ")]
    acked = acks[-1] if acks else 0
    before = {(w, s) for w, s, _, _ in read_events(uri)}
    spool_bytes = sum(f.stat().st_size for f in Path(spool).rglob("*.spool"))
    report = recover_spools(open_store(uri), spool_base=spool)
    second = recover_spools(open_store(uri), spool_base=spool)  # must find nothing left
    events = read_events(uri)
    steps = [step for _, _, kind, step in events if kind == "metric"]
    ids = [(w, s) for w, s, _, _ in events]
    present = set(steps)
    return {
        "seed": seed,
        "acked": acked,
        "in_store": len(steps),
        "lost": sum(1 for step in range(acked) if step not in present),
        "duplicated": (len(steps) - len(present)) + (len(ids) - len(set(ids))),
        "recovered": report.events,
        "recovered_again": second.events,
        "spool_bytes_at_kill": spool_bytes,
        "published_before_recovery": len(before),
        "problems": report.problems,
    }


def measure_recovery(workdir: str, events: int, batch: int = 10_000) -> dict[str, Any]:
    """Spool bytes/event and recovery events/s for a dead writer's spool of `events` metric events.

    The spool holds one frame per `batch` events (what one flusher cycle drains).
    """
    from eventlog.core.identity import Identity
    from eventlog.core.store import open_store
    from ingest.buffer import WriteBuffer
    from ingest.recovery import recover_spools
    from ingest.spool import Spool, spool_dir

    store = open_store(os.path.join(workdir, "recovery-store"))
    base = os.path.join(workdir, "recovery-spool")
    buffer = WriteBuffer(Identity(node="bench", userid="bench", rank=None, writer="dead-writer"))
    slots = [buffer.slot("bench", 1, "metric", f"train/metric_{k:02d}") for k in range(10)]
    rng = random.Random(0)
    spool = Spool(spool_dir(store, base), "dead-writer")
    t0 = time.time_ns()
    for start in range(0, events, batch):
        n = min(batch, events - start)
        buffer.add_metrics((slots[i % 10], rng.random(), (start + i) // 10, t0 + (start + i) * 1000) for i in range(n))
        spool.append(buffer.drain())
    size = spool.size()
    spool.close(remove=False)  # the writer "dies": the lock is released, the frames stay
    began = time.perf_counter()
    report = recover_spools(store, spool_base=base)
    seconds = time.perf_counter() - began
    assert report.events == events, report
    return {"events": events, "events_per_segment": batch, "spool_bytes_per_event": size / events, "recovery_s": seconds, "recovery_events_per_s": events / seconds}


def main() -> None:
    """Parse arguments, run the trials (or be the child), print the table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--durability", choices=["memory", "spool", "sync"], default="spool")
    parser.add_argument("--max-delay", type=float, default=1.5, help="kill within this many seconds of start")
    parser.add_argument("--recovery-events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", metavar="URI", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.seed, args.durability)
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="stress-crash-") as workdir:
        print(f"{'trial':>5} {'acked':>8} {'in store':>9} {'recovered':>9} {'lost':>5} {'dup':>5}")
        for trial in range(args.trials):
            row = run_trial(workdir, args.seed * 100_000 + trial, durability=args.durability, max_delay=args.max_delay)
            rows.append(row)
            print(f"{trial:>5} {row['acked']:>8} {row['in_store']:>9} {row['recovered']:>9} {row['lost']:>5} {row['duplicated']:>5}")
        recovery = measure_recovery(workdir, args.recovery_events) if args.recovery_events else {}
    lost = sum(r["lost"] for r in rows)
    duplicated = sum(r["duplicated"] for r in rows) + sum(r["recovered_again"] for r in rows)
    with_recovery = sum(1 for r in rows if r["recovered"])
    print(
        f"{args.trials} trials ({args.durability}): lost {lost}, duplicated {duplicated}; "
        f"{sum(r['acked'] for r in rows)} events acknowledged, {sum(r['recovered'] for r in rows)} recovered "
        f"from the spool in {with_recovery} trial(s)"
    )
    if recovery:
        print(
            f"spool: {recovery['spool_bytes_per_event']:.2f} bytes/event; recovery: {recovery['recovery_events_per_s']:,.0f} "
            f"events/s ({recovery['events']:,} events in segments of {recovery['events_per_segment']:,}, {recovery['recovery_s']:.2f} s)"
        )
    RESULTS.mkdir(exist_ok=True)
    summary = {"trials": args.trials, "durability": args.durability, "lost": lost, "duplicated": duplicated,
               "trials_with_recovery": with_recovery, "recovery": recovery, "rows": rows}
    (RESULTS / "stress_crash.json").write_text(json.dumps(summary, indent=2))
    sys.exit(1 if lost or duplicated else 0)


if __name__ == "__main__":
    main()
