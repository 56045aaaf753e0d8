"""Helpers for the tests (and the compaction benchmark); not part of the shipped packages.

`make_segment`/`write_segments`: seeded synthetic segments (fast: numpy, no logger). Each holds `events` metric events of one writer: keys `k0..k{keys-1}` in turn, steps
increasing, values from a seeded generator; (writer, seq) numbering is the writer's own.
`seen` counts what a reader sees; `log_loss_runs` logs runs through the real logger;
`load_script` imports a script of `benchmarks/` or `scripts/` (not packages) by its path;
`record_calls` records the first argument of every call to a function (fsyncs, say) while it still runs.
"""

from __future__ import annotations

import importlib.util
import zlib
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from eventlog.core import layout
from eventlog.core.event import arrow_schema
from eventlog.core.segment import Segment, encode_segment, publish
from eventlog.core.store import Store
from eventlog.experiment import Experiment
from query.scan import scan_store

if TYPE_CHECKING:  # the compaction benchmark imports this module without pytest installed
    import pytest

__all__ = ["BASE_NS", "ROOT", "load_script", "log_loss_runs", "make_segment", "record_calls", "seen", "write_segments"]

#: The project's root directory.
ROOT = Path(__file__).resolve().parents[2]

#: dt of the first synthetic event: 2026-11-23T00:00:00Z (one date partition for a day's worth).
BASE_NS = 1_795_392_000 * 10**9


def make_segment(experiment: str, writer: str, first_seq: int, events: int, *, run: int = 1, keys: int = 8) -> Segment:
    """An encoded segment of `events` metric events numbered from `first_seq`."""
    import numpy as np
    import pyarrow as pa

    seqs = np.arange(first_seq, first_seq + events, dtype=np.int64)
    zeros = pa.array(np.zeros(events, dtype=np.int32))
    key_idx = pa.array((seqs % keys).astype(np.int32))
    rng = np.random.default_rng([first_seq, zlib.crc32(writer.encode())])  # str hash() is salted per process
    columns: dict[str, Any] = {
        "run": pa.array(np.full(events, run, dtype=np.int64)),
        "step": pa.array(seqs // keys),
        "event": pa.DictionaryArray.from_arrays(zeros, pa.array(["metric"])),
        "key": pa.DictionaryArray.from_arrays(key_idx, pa.array([f"k{i}" for i in range(keys)])),
        "value": pa.array(rng.random(events)),
        "value_json": pa.nulls(events, pa.string()),
        "dt": pa.array(BASE_NS + seqs * 1000).cast(pa.timestamp("ns", tz="UTC")),
        "node": pa.DictionaryArray.from_arrays(zeros, pa.array(["node"])),
        "userid": pa.DictionaryArray.from_arrays(zeros, pa.array(["user"])),
        "rank": pa.nulls(events, pa.int64()),
        "writer": pa.DictionaryArray.from_arrays(zeros, pa.array([writer])),
        "seq": pa.array(seqs),
        "extra": pa.MapArray.from_arrays(
            pa.array(np.zeros(events + 1, dtype=np.int32)), pa.array([], pa.string()), pa.array([], pa.string())
        ),
    }
    schema = arrow_schema()
    table = pa.table([columns[name] for name in schema.names], names=schema.names)
    date = layout.date_of_ns(BASE_NS + first_seq * 1000)
    return encode_segment(experiment, date, writer, first_seq, table)


def write_segments(
    store: Store, experiment: str, *, segments: int, events: int, writers: int = 4, start: int = 0, run: int = 1
) -> int:
    """Publish `segments` segments of `events` events, round-robin over `writers` writers.

    Args:
        start: index of the first segment (call again with `start=segments` to append more).

    Returns:
        The number of events written.
    """
    for index in range(start, start + segments):
        writer = f"{experiment}-w{index % writers}"
        first_seq = (index // writers) * events
        publish(store, make_segment(experiment, writer, first_seq, events, run=run))
    return segments * events


def seen(store: Store, experiment: str = "*") -> tuple[int, int]:
    """(events a reader sees now, distinct event ids among them): equal means no duplicates."""
    frame = scan_store(store, experiment).select("writer", "seq").collect()
    return frame.height, frame.unique().height


def log_loss_runs(exp: Experiment, *, runs: int, steps: int) -> None:
    """Log `runs` runs of `exp`, each with `steps` `loss` metrics (1 / (step + 1)), flushed at the end of each run."""
    for _ in range(runs):
        with exp:
            for step in range(steps):
                exp.log_metric("loss", 1.0 / (step + 1), step=step)
            exp.flush()


def load_script(relative: str) -> ModuleType:
    """The module of the script at `relative` to the project root (e.g. `benchmarks/stress_crash.py`)."""
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def record_calls(monkeypatch: pytest.MonkeyPatch, name: str, *owners: Any) -> list[Any]:
    """The first argument of every call from now on to `name` as found on each of `owners` (modules
    that imported it, say), which all hold the same function; the real function still runs."""
    calls: list[Any] = []
    real = getattr(owners[0], name)

    def recording(first: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(first)
        return real(first, *args, **kwargs)

    for owner in owners:
        monkeypatch.setattr(owner, name, recording)
    return calls
