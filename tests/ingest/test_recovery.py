"""Recovery publishes dead writers' spool frames exactly once, skips live writers, reports bad frames."""

from __future__ import annotations

import io
import logging
import os
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import eventlog
from eventlog.core.identity import Identity
from eventlog.core.segment import Segment, publish
from eventlog.core.store import Store, open_store
from ingest.buffer import WriteBuffer
from ingest.recovery import RecoveryError, recover, recover_spools
from ingest.spool import Spool, spool_dir
from tests.support.testkit import record_calls

T0 = 1_763_856_000 * 10**9


@pytest.fixture(autouse=True)
def spool_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    base = str(tmp_path / "spool")
    monkeypatch.setenv("EVENTLOG_SPOOL_DIR", base)
    return base


def make_segments(writer: str, batches: list[int], experiment: str = "e") -> list[Segment]:
    """Real encoded segments: one per batch, metric `x` with step = value = 0, 1, 2, ..."""
    buffer = WriteBuffer(Identity(node="n", userid="u", rank=None, writer=writer))
    slot = buffer.slot(experiment, 1, "metric", "x")
    segments: list[Segment] = []
    i = 0
    for size in batches:
        buffer.add_metrics((slot, float(j), j, T0 + j) for j in range(i, i + size))
        i += size
        segments.extend(buffer.drain())
    return segments


def dead_writer_spool(store: Store, segments: list[Segment], writer: str = "dead-1") -> Spool:
    """A spool holding `segments`, left behind by a writer that died (its lock released)."""
    spool = Spool(spool_dir(store), writer)
    spool.append(segments)
    spool.close(remove=False)
    return spool


def steps_in_store(store: Store) -> list[int]:
    steps: list[int] = []
    for info in store.find("seg"):
        table = pq.read_table(io.BytesIO(store.read(info.path)), columns=["step"])
        steps.extend(table.column("step").to_pylist())
    return sorted(steps)


def test_dead_writers_frames_become_segments_once_and_the_spool_is_deleted(any_uri: str) -> None:
    store = open_store(any_uri)
    spool = dead_writer_spool(store, make_segments("dead-1", [10, 20, 5]))
    report = recover_spools(store)
    assert (report.events, report.segments, report.spools, report.problems) == (35, 3, 1, [])
    assert steps_in_store(store) == list(range(35))
    assert not os.path.exists(spool.path)
    assert recover(store) == 0  # run twice: nothing more, nothing duplicated
    assert steps_in_store(store) == list(range(35))


def test_a_live_writers_spool_is_left_alone(local_uri: str) -> None:
    store = open_store(local_uri)
    live = Spool(spool_dir(store), "live-1")
    live.append(make_segments("live-1", [4]))
    report = recover_spools(store)
    assert (report.live, report.events) == (1, 0)
    assert steps_in_store(store) == [] and os.path.exists(live.path)
    live.close(remove=False)  # the writer dies
    assert recover(store) == 4


def test_segments_already_published_are_skipped_not_duplicated(local_uri: str) -> None:
    # The writer published its first segment and died before emptying its spool.
    store = open_store(local_uri)
    segments = make_segments("dead-1", [6, 4])
    assert publish(store, segments[0])
    dead_writer_spool(store, segments)
    report = recover_spools(store)
    assert (report.events, report.already_present) == (4, 1)
    assert steps_in_store(store) == list(range(10))


def test_a_torn_tail_is_dropped_quietly_and_the_rest_recovered(local_uri: str, caplog: pytest.LogCaptureFixture) -> None:
    """A kill during the spool's append leaves the last frame unfinished: the normal mark of a
    crash, whose batch was never acknowledged, so no warning and no file kept aside."""
    store = open_store(local_uri)
    spool = dead_writer_spool(store, make_segments("dead-1", [3, 3, 3]))
    size = os.path.getsize(spool.path)
    with open(spool.path, "r+b") as f:
        f.truncate(size - 20)  # killed in the middle of writing the last frame
    with caplog.at_level(logging.INFO, logger="eventlog"):
        report = recover_spools(store)
    assert (report.events, report.problems, report.torn_tails, report.corrupt_files) == (6, [], 1, [])
    assert steps_in_store(store) == list(range(6))
    assert not os.path.exists(spool.path) and not list(Path(spool.path).parent.glob("*.corrupt"))
    assert [r.levelname for r in caplog.records if "cut short" in r.getMessage()] == ["INFO"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].endswith("recovered from 1 spool file(s) of dead writers; 0 problem(s)")


def test_a_damaged_frame_before_the_tail_is_reported_and_the_file_kept_aside(local_uri: str) -> None:
    store = open_store(local_uri)
    spool = dead_writer_spool(store, make_segments("dead-1", [3, 3, 3]))
    with open(spool.path, "r+b") as f:
        f.seek(60)
        f.write(b"\xff" * 4)  # bit rot inside the first frame
    report = recover_spools(store)
    assert report.events == 6 and len(report.problems) == 1 and report.torn_tails == 0
    assert steps_in_store(store) == list(range(3, 9))
    (corrupt,) = report.corrupt_files
    assert corrupt.endswith(".corrupt") and os.path.exists(corrupt)
    assert recover_spools(store).problems == []  # a quarantined file is not read again


def test_a_failing_store_keeps_the_spool_for_a_later_try(local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(local_uri)
    spool = dead_writer_spool(store, make_segments("dead-1", [5]))

    def refuse(path: str, data: bytes) -> None:
        raise OSError("connection reset")

    with monkeypatch.context() as patched:
        patched.setattr(store, "create", refuse)
        with pytest.raises(RecoveryError, match="eventlog recover"):
            recover(store)
    assert os.path.exists(spool.path)
    assert recover(store) == 5


def test_concurrent_recoveries_publish_each_event_once(local_uri: str) -> None:
    store = open_store(local_uri)
    for w in range(4):
        dead_writer_spool(store, make_segments(f"dead-{w}", [7, 7]), writer=f"dead-{w}")
    totals: list[int] = []
    threads = [threading.Thread(target=lambda: totals.append(recover(open_store(local_uri)))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(totals) == 4 * 14
    assert len(steps_in_store(store)) == 4 * 14


def test_log_recover_and_open_recover_leftovers(local_uri: str) -> None:
    store = open_store(local_uri)
    dead_writer_spool(store, make_segments("dead-1", [8]), writer="dead-1")
    with eventlog.open(local_uri, recover=False) as log:
        assert log.recover() == 8
    dead_writer_spool(store, make_segments("dead-2", [3], experiment="f"), writer="dead-2")
    with eventlog.open(local_uri):  # recovery at open
        pass
    assert len(steps_in_store(store)) == 11


def test_recovery_makes_the_dead_writers_claims_durable_before_its_events(local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A writer opened with flush_on_stop=False leaves its claims' directory to its next flush; if it
    # died first, recovery must not make the events durable before the claims of their runs.
    from eventlog.core import layout
    from eventlog.core import store as store_module
    from eventlog.core.run_claims import claim_run

    store = open_store(local_uri)
    claim_run(store, "e", writer="dead-1")
    dead_writer_spool(store, make_segments("dead-1", [10, 5]))
    synced = record_calls(monkeypatch, "fsync_dir", store_module)
    report = recover_spools(open_store(local_uri))
    assert (report.events, report.segments) == (15, 2)
    assert synced == [store.full_path(layout.claims_dir("e"))]  # once, before the first segment
