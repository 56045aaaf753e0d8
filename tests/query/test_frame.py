"""The seed's own plotting snippet works on what `data()` returns (issue 14)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import eventlog
from query.frame import EventFrame


def test_the_seed_snippet_draws_a_chart(local_uri: str, tmp_path: Path) -> None:
    # Regression: exp.data(...).plot(x='run', y='value') failed (polars' plot cannot be called).
    with eventlog.open(local_uri) as log:
        exp = log.experiment("iris")
        for run in range(3):
            with exp:
                exp.log_metric("acc", 0.5 + run / 10)
        frame = exp.data(event="metric", key="acc", run="*")
    assert isinstance(frame, EventFrame) and isinstance(frame, pl.DataFrame)
    chart = frame.plot(x="run", y="value")
    spec = chart.to_dict()
    assert spec["mark"]["type"] == "line"
    assert spec["encoding"]["x"]["field"] == "run" and spec["encoding"]["y"]["field"] == "value"
    drawn = [(row["run"], row["value"]) for row in next(iter(spec["datasets"].values()))]
    assert drawn == [(1, 0.5), (2, 0.6), (3, 0.7)]
    chart.save(tmp_path / "acc.html")
    assert "vega" in (tmp_path / "acc.html").read_text()
    assert frame.plot(x="run", y="value", kind="point").to_dict()["mark"]["type"] == "point"
    assert frame.plot.bar(x="run", y="value").to_dict()["mark"]["type"] == "bar"  # polars' own methods still work
    with pytest.raises(ValueError, match="plot kind 'pie'"):
        frame.plot(x="run", y="value", kind="pie")
    assert frame.to_pandas()["value"].tolist() == [0.5, 0.6, 0.7]
