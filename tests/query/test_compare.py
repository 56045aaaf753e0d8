"""`compare()`: runs side by side with params and the metric's last/best value, best first."""

from __future__ import annotations

import datetime as _dt

import pytest

import query
from eventlog.core import layout
from eventlog.core.store import FileInfo, Store, open_store
from query.compare import MetricNotFoundError

from .conftest import T0, Writer

S = _dt.timedelta(seconds=1)
# run -> (lr, accuracy by step): run 2 peaks highest, run 3 ends highest, run 4 never logs acc
HISTORY = {1: (0.1, [0.5, 0.6, 0.7]), 2: (0.2, [0.6, 0.95, 0.8]), 3: (0.3, [0.7, 0.8, 0.9]), 4: (0.4, [])}


def _archive(uri: str, write: Writer) -> None:
    rows: list[dict[str, object]] = []
    for run, (lr, accs) in HISTORY.items():
        start = T0 + run * 100 * S
        rows.append({"run": run, "event": "start", "key": "run", "value_json": "{}", "dt": start})
        rows.append({"run": run, "event": "param", "key": "lr", "value": lr, "dt": start})
        for step, acc in enumerate(accs):
            rows.append({"run": run, "step": step, "key": "acc", "value": acc, "dt": start + (step + 1) * S})
            rows.append({"run": run, "step": step, "key": "loss", "value": 1 - acc, "dt": start + (step + 1) * S})
        rows.append({"run": run, "event": "stop", "key": "run", "value_json": '{"status": "completed"}', "dt": start + 10 * S})
    write(uri, rows)


def test_ranked_by_last_value(any_uri: str, write: Writer) -> None:
    _archive(any_uri, write)
    table = query.compare(any_uri, "exp", "acc")
    assert table.columns[:8] == ["rank", "experiment", "run", "status", "acc", "acc.best", "acc.best_step", "duration_s"]
    assert "param.lr" in table.columns and "metric.loss" in table.columns
    assert table["run"].to_list() == [3, 2, 1, 4]
    assert table["rank"].to_list() == [1, 2, 3, 4]
    assert table["acc"].to_list() == [0.9, 0.8, 0.7, None]
    assert table["acc.best"].to_list() == [0.9, 0.95, 0.7, None]
    assert table["acc.best_step"].to_list() == [2, 1, 2, None]
    assert table["param.lr"].to_list() == [0.3, 0.2, 0.1, 0.4]


def test_best_and_min_modes(local_uri: str, write: Writer) -> None:
    _archive(local_uri, write)
    assert query.compare(local_uri, "exp", "acc", by="best")["run"].to_list() == [2, 3, 1, 4]
    lowest = query.compare(local_uri, "exp", "loss", mode="min")
    assert lowest["run"].to_list()[:3] == [3, 2, 1]
    assert lowest["loss.best"].to_list()[:3] == pytest.approx([0.1, 0.05, 0.3])
    assert query.compare(local_uri, "exp", "loss", mode="min", by="best")["run"].to_list()[0] == 2


def test_bad_input(local_uri: str, write: Writer) -> None:
    assert query.compare(local_uri, "exp", "acc").height == 0  # no data yet: an empty table
    _archive(local_uri, write)
    with pytest.raises(MetricNotFoundError, match="metrics are: acc, loss"):
        query.compare(local_uri, "exp", "f1")
    with pytest.raises(ValueError, match="mode must be"):
        query.compare(local_uri, "exp", "acc", mode="best")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="by must be"):
        query.compare(local_uri, "exp", "acc", by="first")  # type: ignore[arg-type]


class _BusyStore(Store):
    """A real local store with a busy writer: run 1 lands a new, better `acc` just before every listing of segments."""

    def __init__(self, uri: str, write: Writer) -> None:
        base = open_store(uri)
        super().__init__(base.uri, base.fs, base.root)
        self._write = write
        self.landed = 0

    def find(self, prefix: str) -> list[FileInfo]:
        if prefix.startswith(layout.SEGMENTS):
            step = 10 + self.landed
            self._write(self.uri, [{"run": 1, "step": step, "key": "acc", "value": 1.0 + self.landed, "dt": T0 + (200 + step) * S}])
            self.landed += 1
        return super().find(prefix)


def test_one_snapshot_for_the_table_and_the_best_values(local_uri: str, write: Writer, plan: str) -> None:
    _archive(local_uri, write)
    table = query.compare(_BusyStore(local_uri, write), "exp", "acc")
    # last, best and best step all come from the same events: whatever landed after that snapshot is in none of them
    assert table.select("rank", "run", "acc", "acc.best", "acc.best_step").row(0) == (1, 1, 1.0, 1.0, 10)


def test_a_metric_named_like_a_glob_is_taken_literally(local_uri: str, write: Writer, plan: str) -> None:
    write(local_uri, [{"run": 1, "step": step, "key": key, "value": value, "dt": T0 + step * S}
                      for step, (key, value) in enumerate([("acc[0]", 0.5), ("acc0", 0.9), ("acc[0]", 0.4)])])
    table = query.compare(local_uri, "exp", "acc[0]")
    assert table.select("acc[0]", "acc[0].best", "acc[0].best_step").row(0) == (0.4, 0.5, 0)
