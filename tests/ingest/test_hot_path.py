"""The fast path and its neighbours: every call lands exactly once and whole, from any thread."""

from __future__ import annotations

import threading

import pytest

import eventlog


def test_steps_none_and_int_go_through_the_columns(local_uri: str) -> None:
    log = eventlog.open(local_uri)
    exp = log.experiment("hot")
    with exp:
        for i in range(100):
            exp.log_metric("a", float(i), step=i if i % 2 else None)
    frame = exp.data(event="metric")
    assert frame["value"].to_list() == [float(i) for i in range(100)]
    assert frame["step"].to_list() == [i if i % 2 else None for i in range(100)]
    log.close()


def test_step_out_of_int64_range_never_fails_its_batch(local_uri: str) -> None:
    """Regression: one step >= 2**63 made the whole drain fail; now its step is null and all events land."""
    log = eventlog.open(local_uri)
    exp = log.experiment("range")
    with exp:
        exp.log_metric("a", 1.0, step=1)
        exp.log_metric("a", 2.0, step=2**64)  # the hot path does not range-check (it costs every call)
        exp.log_metric("a", 3.0, step=3)
        with pytest.raises(ValueError, match="out of range"):
            exp.log_event("metric", "b", 1.0, step=2**64)  # the validating path says so
    assert exp.data(event="metric").sort("value").select("step", "value").rows() == [(1, 1.0), (None, 2.0), (3, 3.0)]
    log.close()


def test_other_threads_log_through_the_slow_path_without_mixing_rows(local_uri: str) -> None:
    log = eventlog.open(local_uri, max_events=500)  # many drains while the threads append
    exp = log.experiment("threads")
    exp.start()

    def work(offset: int) -> None:
        for i in range(2000):
            exp.log_metric(f"t{offset}", float(offset * 10_000 + i), step=i)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    work(9)  # the owner thread logs at the same time
    for t in threads:
        t.join()
    exp.stop()
    frame = exp.data(event="metric")
    assert frame.height == 5 * 2000
    for offset in (0, 1, 2, 3, 9):
        rows = frame.filter(frame["key"] == f"t{offset}").sort("step")
        assert rows["value"].to_list() == [float(offset * 10_000 + i) for i in range(2000)]  # value matches its key and step
    log.close()
