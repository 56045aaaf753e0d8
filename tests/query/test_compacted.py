"""Queries read the manifest's view: the same answers before and after compaction."""

from __future__ import annotations

import polars as pl
import pytest

import eventlog
import query

#: Every test runs with both plans (see the `plan` fixture in conftest.py).
pytestmark = pytest.mark.usefixtures("plan")


@pytest.mark.slow
def test_compaction_does_not_change_any_answer(any_uri: str) -> None:
    log = eventlog.open(any_uri)
    exp = log.experiment("c")
    for run in range(3):
        with exp:
            exp.log_extra(tag=f"t{run}")
            exp.log_param("lr", 0.1 * run)
            for step in range(30):
                exp.log_metrics({"loss": 1 / (step + 1) + run, "acc": step / 30}, step=step)
            exp.flush()
    before = (query.data(any_uri, "c"), query.runs(any_uri, "c"), query.summary(any_uri, "c"), query.last_values(any_uri))
    raw_files = query.files(any_uri, "c")
    log.compact()
    assert query.files(any_uri, "c") != raw_files  # now the manifest's compacted file(s)
    after = (query.data(any_uri, "c"), query.runs(any_uri, "c"), query.summary(any_uri, "c"), query.last_values(any_uri))
    log.close()
    assert after[0].equals(before[0])
    assert after[1].equals(before[1])
    assert after[3].equals(before[3])
    exact = ["event", "key", "count", "min", "25%", "50%", "75%", "max", "first", "last"]
    assert after[2].select(exact).equals(before[2].select(exact))
    # sums run in file order, so mean/std may differ in the last bits
    for name in ("mean", "std"):
        assert after[2][name].to_list() == pytest.approx(before[2][name].to_list(), rel=1e-12)
    assert before[0].filter(pl.col("event") == "metric").height == 180
