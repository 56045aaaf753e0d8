"""Run numbers are claimed atomically: racing starters never share a number; ranks of a job do."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from eventlog.core import layout, run_claims
from eventlog.core.run_claims import claim_run, latest_run, list_runs
from eventlog.core.segment import publish
from eventlog.core.store import Store, open_store
from tests.support.testkit import make_segment, record_calls


def test_sequential_claims_count_up(any_uri: str) -> None:
    store = open_store(any_uri)
    assert latest_run(store, "e") is None
    assert [claim_run(store, "e", writer="w") for _ in range(3)] == [1, 2, 3]
    assert list_runs(store, "e") == [1, 2, 3]
    assert claim_run(store, "other", writer="w") == 1


def test_threads_racing_get_distinct_numbers(any_uri: str) -> None:
    store = open_store(any_uri)
    got: list[int] = []
    barrier = threading.Barrier(10)

    def start() -> None:
        barrier.wait()
        got.append(claim_run(store, "race", writer=f"w{threading.get_ident()}"))

    threads = [threading.Thread(target=start) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(1, 11))


def test_ranks_of_one_job_share_one_run(any_uri: str) -> None:
    store = open_store(any_uri)
    claim_run(store, "ddp", writer="earlier")
    got: list[int] = []
    barrier = threading.Barrier(8)

    def rank() -> None:
        barrier.wait()
        got.append(claim_run(store, "ddp", writer=f"w{threading.get_ident()}", job="job-42"))

    threads = [threading.Thread(target=rank) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [2] * 8
    assert claim_run(store, "ddp", writer="late rank", job="job-42") == 2
    assert claim_run(store, "ddp", writer="next job", job="job-43") == 3


def test_processes_racing_on_local_disk_get_distinct_numbers(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    code = (
        "import sys; from eventlog.core.store import open_store; from eventlog.core.run_claims import claim_run;"
        "print(claim_run(open_store(sys.argv[1]), 'p', writer=sys.argv[2]))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, uri, f"w{i}"], stdout=subprocess.PIPE, text=True, env=os.environ.copy())
        for i in range(6)
    ]
    numbers = sorted(int(p.communicate(timeout=60)[0]) for p in procs)
    assert numbers == list(range(1, 7))


@pytest.mark.s3
def test_claims_on_s3_are_objects_under_runs(s3_uri: str) -> None:
    store = open_store(s3_uri)
    assert claim_run(store, "e", writer="w") == 1
    assert [f.path for f in store.find("runs")] == ["runs/experiment=e/00000000000000000001"]


def _count_calls(store: Store, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    calls = {"exists": 0, "list_dir": 0, "create": 0}
    for name in calls:
        original = getattr(store, name)

        def counted(*args: object, _name: str = name, _original: Any = original, **kwargs: object) -> Any:
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(store, name, counted)
    return calls


def test_a_claim_costs_the_same_at_1000_runs_as_at_one(local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """No listing of every claim per start (a sweep of 10,000 trials paid 38 ms per start for it)."""
    store = open_store(local_uri)
    for _ in range(1000):
        run_claims.claim_run(store, "sweep", writer="w")
    calls = _count_calls(store, monkeypatch)
    assert run_claims.claim_run(store, "sweep", writer="w") == 1001
    assert calls == {"exists": 1, "list_dir": 0, "create": 1}  # the mark's claim is still there, then one create


def test_a_new_process_probes_the_high_water_mark_in_log_steps(local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(local_uri)
    for _ in range(1000):
        run_claims.claim_run(store, "sweep", writer="w")
    run_claims.forget_high_water(store, "sweep")  # as a fresh process starts
    calls = _count_calls(store, monkeypatch)
    assert run_claims.claim_run(store, "sweep", writer="other") == 1001
    assert calls["list_dir"] == 0 and calls["exists"] <= 2 * 10 + 2 and calls["create"] == 1  # log2(1000) < 10


def test_a_stale_mark_skips_past_what_others_claimed(local_uri: str) -> None:
    """Another process claimed 300 numbers since this one's last claim: it jumps, never reuses."""
    store = open_store(local_uri)
    assert run_claims.claim_run(store, "sweep", writer="me") == 1
    mark = dict(run_claims._high_water)
    for _ in range(300):
        run_claims.claim_run(store, "sweep", writer="them")
    run_claims._high_water.clear()
    run_claims._high_water.update(mark)  # this process still believes 1 is the newest
    assert run_claims.claim_run(store, "sweep", writer="me") == 302
    assert run_claims.list_runs(store, "sweep") == list(range(1, 303))


def test_clearing_an_experiment_restarts_its_numbers(local_uri: str) -> None:
    import eventlog

    log = eventlog.open(local_uri)
    exp = log.experiment("again")
    exp.start()
    exp.stop()
    exp.clear(force=True)
    assert run_claims.claim_run(open_store(local_uri), "again", writer="w") == 1
    log.close()


def test_a_store_wiped_behind_the_process_starts_at_one_again(local_uri: str) -> None:
    store = open_store(local_uri)
    assert [claim_run(store, "e", writer="w") for _ in range(3)] == [1, 2, 3]
    shutil.rmtree(store.full_path("runs"))
    assert claim_run(store, "e", writer="w") == 1


def _count_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every fd passed to os.fsync from now on (the real fsync still runs)."""
    return record_calls(monkeypatch, "fsync", os)


def test_a_claim_makes_its_name_durable_and_a_jobs_claim_its_content_too(local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(local_uri)
    claim_run(store, "e", writer="w")  # the first claim probes; count a steady-state one
    synced = _count_fsyncs(monkeypatch)
    assert claim_run(store, "e", writer="w") == 2
    assert len(synced) == 1  # the claims directory only: its name is what counts
    claim = run_claims._read_claim(store, "e", 2)
    assert claim is not None and (claim.writer, claim.job) == ("w", None)  # the content is written all the same
    assert claim_run(store, "e", writer="rank0", job="job-0") == 3  # makes the job index's directory
    synced.clear()
    assert claim_run(store, "e", writer="rank0", job="job-1") == 4
    assert len(synced) == 4  # claim and job index: each its content and its directory


def test_a_claim_emptied_by_a_power_loss_still_counts_and_a_rank_moves_past_it(local_uri: str) -> None:
    store = open_store(local_uri)
    claim_run(store, "ddp", writer="w")
    claim_path = Path(store.full_path(layout.claim_path("ddp", 1)))
    assert claim_path.exists()
    claim_path.write_bytes(b"")  # what a power loss can leave of a claim whose content was not fsynced
    run_claims.forget_high_water(store, "ddp")
    assert claim_run(store, "ddp", writer="next", job="job-7") == 2
    assert claim_run(store, "ddp", writer="fresh") == 3


def _count_dir_syncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every directory the store fsyncs from now on (the real fsync still runs)."""
    from eventlog.core import backends
    from eventlog.core import store as store_module

    return record_calls(monkeypatch, "fsync_dir", backends, store_module)


def test_a_deferred_claim_becomes_durable_with_the_next_segment_one_sync_for_all(local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(local_uri)
    claim_run(store, "e", writer="w", defer_sync=True)  # the first claim probes; count steady-state ones
    synced = _count_fsyncs(monkeypatch)
    assert [claim_run(store, "e", writer="w", defer_sync=True) for _ in range(5)] == [2, 3, 4, 5, 6]
    assert synced == []  # no journal commit per run
    assert latest_run(store, "e") == 6  # visible to every process at once all the same
    dirs = _count_dir_syncs(monkeypatch)
    assert publish(store, make_segment("e", "w", 0, 20))
    claims = store.full_path(layout.claims_dir("e"))
    assert dirs.count(claims) == 1 and dirs.index(claims) == 0  # the six claims' directory, once, before the segment
    dirs.clear()
    assert publish(store, make_segment("e", "w", 20, 20))
    assert claims not in dirs  # nothing pending any more


def test_a_jobs_claim_is_never_deferred(local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(local_uri)
    synced = _count_fsyncs(monkeypatch)
    assert claim_run(store, "e", writer="rank0", job="job-1", defer_sync=True) == 1
    assert len(synced) >= 4  # claim and job index, content and directory: other ranks read them


def test_pending_syncs_survive_a_failure_and_skip_a_deleted_directory(local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from eventlog.core import store as store_module

    store = open_store(local_uri)
    claim_run(store, "gone", writer="w", defer_sync=True)
    claim_run(store, "kept", writer="w", defer_sync=True)
    real = store_module.fsync_dir

    def failing(directory: str) -> None:
        raise OSError(5, "I/O error", directory)

    monkeypatch.setattr(store_module, "fsync_dir", failing)
    with pytest.raises(OSError, match="I/O error"):
        store.sync_pending()
    monkeypatch.setattr(store_module, "fsync_dir", real)
    shutil.rmtree(store.full_path(layout.claims_dir("gone")))
    dirs = _count_dir_syncs(monkeypatch)
    store.sync_pending()  # still pending after the failure; the deleted one is skipped quietly
    assert dirs == [store.full_path(layout.claims_dir("gone")), store.full_path(layout.claims_dir("kept"))]
    dirs.clear()
    store.sync_pending()
    assert dirs == []
