"""A store that fails on some writes: nothing is lost, nothing duplicated, the logger retries and reports.

`FlakyFileSystem` is a real fsspec filesystem (the in-memory one) whose segment writes fail at
random, half of them *after* the object landed (an unknown outcome, as a timed-out PUT on S3).
"""

from __future__ import annotations

import io
import random
import uuid
from typing import Any, ClassVar

import fsspec
import pyarrow.parquet as pq
import pytest
from fsspec.implementations.memory import MemoryFileSystem

import eventlog
from eventlog.core.store import Store


class FlakyFileSystem(MemoryFileSystem):
    """memory:// with intermittent failures of writes under `seg/` (before or after the write)."""

    protocol = "flaky"
    store: ClassVar[dict[str, Any]] = {}
    pseudo_dirs: ClassVar[list[str]] = [""]
    failure_rate = 0.0
    rng = random.Random(0)
    failures: ClassVar[dict[str, int]] = {"before": 0, "after": 0}

    @classmethod
    def _strip_protocol(cls, path: str) -> str:
        if path.startswith("flaky://"):
            path = "memory://" + path[len("flaky://") :]
        return str(super()._strip_protocol(path))

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        failing = "/seg/" in path and self.rng.random() < self.failure_rate
        if failing and self.rng.random() < 0.5:
            self.failures["before"] += 1
            raise ConnectionError(f"flaky store: write of {path} failed")
        super().pipe_file(path, value, mode=mode, **kwargs)
        if failing:
            self.failures["after"] += 1
            raise TimeoutError(f"flaky store: write of {path} timed out (but landed)")


fsspec.register_implementation("flaky", FlakyFileSystem, clobber=True)


def events_in(store: Store) -> list[tuple[str, int, str, int | None]]:
    rows: list[tuple[str, int, str, int | None]] = []
    for info in store.find("seg"):
        table = pq.read_table(io.BytesIO(store.read(info.path)), columns=["writer", "seq", "event", "step"])
        rows.extend(zip(*(table.column(c).to_pylist() for c in ("writer", "seq", "event", "step"))))
    return rows


@pytest.mark.parametrize("durability", ["memory", "spool"])
def test_intermittent_write_failures_lose_nothing_and_duplicate_nothing(
    durability: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVENTLOG_SPOOL_DIR", str(tmp_path))
    FlakyFileSystem.failure_rate = 0.6  # high enough that some retry made during flush() fails too, whatever the timing
    FlakyFileSystem.failures.update(before=0, after=0)
    log = eventlog.open(f"flaky://b-{uuid.uuid4().hex[:8]}/root", flush_every=3600, max_events=50, durability=durability)
    exp = log.experiment("e")
    exp.start()
    reported = 0
    step = 0
    for _ in range(20):
        for _ in range(60):
            try:
                exp.log_metric("x", float(step), step=step)
            except eventlog.BackgroundError:
                reported += 1  # an earlier background failure, reported on this call; this event was kept
            step += 1
        for _ in range(100):  # the caller's retry loop: each flush() call retries at once
            try:
                exp.flush()
                break
            except eventlog.BackgroundError:
                reported += 1
        else:
            pytest.fail("flush never succeeded")
    FlakyFileSystem.failure_rate = 0.0
    log.close()
    rows = events_in(log.store)
    steps = [s for _, _, kind, s in rows if kind == "metric"]
    assert sorted(s for s in steps if s is not None) == list(range(step))  # nothing lost, nothing twice
    assert len({(w, s) for w, s, _, _ in rows}) == len(rows)
    assert FlakyFileSystem.failures["before"] > 0 and FlakyFileSystem.failures["after"] > 0
    assert reported > 0  # the failures were reported to the caller
