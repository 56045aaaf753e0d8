"""Manifest benchmark: bytes one query reads from the manifest, one global file vs sharded by experiment.

Seeded manifests (written directly, as a long-lived archive's compactor would have left them):
EXPERIMENTS experiments, each with SEGMENTS / EXPERIMENTS covered raw segments (10 writers, one
date partition) and 5 compacted files, so SEGMENTS tombstones in all. Two stores hold the same
content: one as the single global version file written before sharding (every version held every
experiment's files and tombstones), one as a sharded version (a root naming one part per
experiment). In each, a snapshot of one experiment (`query.take_snapshot`, what every read does)
runs ROUNDS times, alternating the two stores, in a fresh in-process cache each time; the bytes
and requests are counted at `Store.read`.

    .venv/bin/python benchmarks/bench_manifest.py                    # 100,000 tombstones over 100 experiments
    .venv/bin/python benchmarks/bench_manifest.py --segments 20000   # quick

Prints a table and writes benchmarks/results/bench_manifest.json.
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

import msgspec

from eventlog.core import manifest
from eventlog.core.manifest import CompactedFile, Manifest
from eventlog.core.store import Store, open_store
from query.snapshot import take_snapshot

RESULTS = Path(__file__).parent / "results"
WRITERS = 10
FILES_PER_EXPERIMENT = 5


def content(experiments: int, segments: int) -> Manifest:
    """One version holding `segments` tombstones and 5 compacted files per experiment."""
    per_writer = max(1, segments // experiments // WRITERS)
    covered = []
    files = []
    for e in range(experiments):
        partition = f"experiment=exp{e:04d}/date=2026-11-23"
        for w in range(WRITERS):
            covered += [(partition, f"host{w:02d}-{e:04d}-1234", s * 1_000) for s in range(per_writer)]
        files += [
            CompactedFile(f"cmp/{partition}/{v:020d}-{e:04d}{v:028d}.parquet", 1_000_000, 64 << 20)
            for v in range(FILES_PER_EXPERIMENT)
        ]
    return Manifest().evolve(add_files=files, add_covered=covered)


def write_global(store: Store, version: Manifest) -> None:
    """The version as written before sharding: files and tombstones inline, one file."""
    body = {
        "version": 1,
        "commit": version.commit,
        "created": version.created,
        "files": version.files,
        "covered": version.covered,
    }
    store.create(manifest.manifest_path(1), msgspec.json.encode(body))


def write_sharded(store: Store, version: Manifest) -> None:
    """The version as the compactor writes it now: parts, then the root."""
    root, parts = version.encode()
    for path, body in parts.items():
        store.create(path, body)
    store.create(manifest.manifest_path(1), root)


def one_query(store: Store, experiment: str) -> tuple[int, int, float, int]:
    """(manifest bytes read, manifest requests, seconds, files in the snapshot) of one experiment's snapshot."""
    manifest._roots.clear()
    manifest._parts.clear()
    counted = {"bytes": 0, "reads": 0}
    original = store.read

    def read(path: str) -> bytes:
        data = original(path)
        if path.startswith("_manifest/"):
            counted["bytes"] += len(data)
            counted["reads"] += 1
        return data

    store.read = read  # type: ignore[method-assign]
    try:
        started = time.perf_counter()
        snapshot = take_snapshot(store, experiment)
        seconds = time.perf_counter() - started
    finally:
        store.read = original  # type: ignore[method-assign]
    return counted["bytes"], counted["reads"], seconds, len(snapshot.files)


def main() -> None:
    """Run the benchmark, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=100_000, help="covered segments (tombstones) in all")
    parser.add_argument("--experiments", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    version = content(args.experiments, args.segments)
    tombstones = len(version.covered_ids())
    rows: dict[str, list[tuple[int, int, float, int]]] = {"global": [], "sharded": []}
    with tempfile.TemporaryDirectory() as root:
        stores = {name: open_store(os.path.join(root, name)) for name in rows}
        write_global(stores["global"], version)
        write_sharded(stores["sharded"], version)
        experiment = f"exp{args.experiments // 2:04d}"
        for _ in range(args.rounds):  # alternate the contenders
            for name, store in stores.items():
                rows[name].append(one_query(store, experiment))
    load = os.getloadavg()[0]
    print(f"manifest bytes read by one experiment's snapshot: {tombstones:,} tombstones, {args.experiments} experiments")
    print(f"{'layout':<9} {'bytes':>12} {'requests':>9} {'median ms':>10} {'files':>6}")
    summary: dict[str, Any] = {}
    for name, results in rows.items():
        bytes_read, reads, _, files = results[0]
        median_ms = statistics.median(r[2] for r in results) * 1000
        summary[name] = {"bytes": bytes_read, "requests": reads, "median_ms": median_ms, "files": files}
        print(f"{name:<9} {bytes_read:>12,} {reads:>9} {median_ms:>10.1f} {files:>6}")
    ratio = summary["global"]["bytes"] / summary["sharded"]["bytes"]
    print(f"bytes ratio global / sharded: {ratio:,.0f}x; load average {load:.2f}")
    RESULTS.mkdir(exist_ok=True)
    out = {
        "tombstones": tombstones,
        "experiments": args.experiments,
        "rounds": args.rounds,
        "results": summary,
        "bytes_ratio": ratio,
        "load_average": load,
        "machine": platform.platform(),
    }
    (RESULTS / "bench_manifest.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
