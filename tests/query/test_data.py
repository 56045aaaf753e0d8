"""`data()`: the DESIGN §10 columns, extras as columns, sorted by dt, every filter, eager and lazy."""

from __future__ import annotations

import datetime as _dt

import polars as pl
import pytest

import eventlog
import query
from query.filters import InvalidFilterError

from .conftest import T0, Writer

S = _dt.timedelta(seconds=1)


def _events(uri: str, write: Writer) -> None:
    rows = [
        {"run": 1, "event": "start", "key": "run", "value_json": "{}", "dt": T0},
        {"run": 1, "step": 0, "key": "train/loss", "value": 3.0, "dt": T0 + 3 * S, "extra": {"tag": "a"}},
        {"run": 1, "step": 0, "key": "val/loss", "value": 2.0, "dt": T0 + 2 * S, "extra": {"tag": "b", "gpu": "0"}},
        {"run": 2, "step": 1, "key": "train/acc", "value": 0.5, "dt": T0 + 1 * S, "writer": "w2", "rank": 1},
        {"run": 2, "event": "param", "key": "lr", "value": 0.1, "dt": T0 + 4 * S, "writer": "w2", "node": "n2"},
    ]
    write(uri, rows)


def test_columns_order_and_extras(any_uri: str, write: Writer) -> None:
    _events(any_uri, write)
    frame = query.data(any_uri, "exp")
    assert isinstance(frame, pl.DataFrame)
    assert frame.columns == [*query.DATA_COLUMNS, "gpu", "tag"]
    assert frame["key"].to_list() == ["run", "train/acc", "val/loss", "train/loss", "lr"]  # by dt
    assert frame["tag"].to_list() == [None, None, "b", "a", None]
    assert frame["gpu"].to_list() == [None, None, "0", None, None]
    assert frame.schema["dt"] == pl.Datetime("us", "UTC") and frame.schema["rank"] == pl.Int64


def test_filters(local_uri: str, write: Writer) -> None:
    _events(local_uri, write)

    def keys(**filters: object) -> list[str]:
        frame = query.data(local_uri, "exp", **filters)
        assert isinstance(frame, pl.DataFrame)
        return list(frame["key"])

    assert keys(key="train/*") == ["train/acc", "train/loss"]
    assert keys(key="*/loss", run=1) == ["val/loss", "train/loss"]
    assert keys(event=["param", "start"]) == ["run", "lr"]
    assert keys(event="metric", run=-1) == ["train/acc"]
    assert keys(step=0) == ["val/loss", "train/loss"]
    assert keys(tag="a") == ["train/loss"]
    assert keys(tag=["a", "b"], gpu="*") == ["val/loss", "train/loss"]
    assert keys(node="n2") == ["lr"]
    assert keys(rank=1) == ["train/acc"]
    assert keys(key="re:acc|lr") == ["train/acc", "lr"]
    assert keys(since=T0 + 2 * S, end=T0 + 3 * S) == ["val/loss", "train/loss"]
    assert keys(since="2030-01-01") == []
    assert keys(end=_dt.datetime(2026, 1, 10, 12, 0, 1)) == ["run", "train/acc"]  # naive = UTC, inclusive


def test_lazy_gives_the_same_frame(local_uri: str, write: Writer) -> None:
    _events(local_uri, write)
    lazy = query.data(local_uri, "exp", lazy=True, tag="*")
    assert isinstance(lazy, pl.LazyFrame)
    assert lazy.collect().equals(query.data(local_uri, "exp"))  # type: ignore[arg-type]
    filtered = query.data(local_uri, "exp", tag="b", lazy=True)
    assert isinstance(filtered, pl.LazyFrame)
    assert filtered.collect()["key"].to_list() == ["val/loss"]


def test_extra_filters_eager_and_lazy_agree(local_uri: str, write: Writer) -> None:
    _events(local_uri, write)
    for filters in ({"tag": "a"}, {"tag": ["a", "b"], "gpu": "*"}, {"tag": "nope"}, {"tag": "a", "run": 1}):
        eager = query.data(local_uri, "exp", **filters)
        lazy = query.data(local_uri, "exp", lazy=True, **filters)
        assert isinstance(eager, pl.DataFrame) and isinstance(lazy, pl.LazyFrame)
        assert lazy.collect().equals(eager), filters
    only_a = query.data(local_uri, "exp", tag="a")
    assert isinstance(only_a, pl.DataFrame)
    # one column per extra of the events returned, as for any other filter
    assert only_a.select("key", "tag").rows() == [("train/loss", "a")] and "gpu" not in only_a.columns


def test_an_extra_filter_on_no_events_is_an_empty_frame(local_uri: str, write: Writer) -> None:
    _events(local_uri, write)
    for lazy in (False, True):
        found = query.data(local_uri, "exp", run=7, tag="a", lazy=lazy)
        assert (found.collect() if isinstance(found, pl.LazyFrame) else found).height == 0


def test_no_data_is_an_empty_frame_with_the_columns(local_uri: str, write: Writer) -> None:
    assert query.data(local_uri, "nothing").columns == query.DATA_COLUMNS
    _events(local_uri, write)
    empty = query.data(local_uri, "exp", run=7)
    assert isinstance(empty, pl.DataFrame)
    assert empty.height == 0 and empty.columns[: len(query.DATA_COLUMNS)] == query.DATA_COLUMNS


def test_unknown_filter_names_are_clear_errors(local_uri: str, write: Writer) -> None:
    _events(local_uri, write)
    with pytest.raises(InvalidFilterError, match=r"unknown filter 'kye'.*extras are gpu, tag"):
        query.data(local_uri, "exp", kye="loss")
    with pytest.raises(InvalidFilterError, match="unknown filter 'kye'"):
        query.data(local_uri, "exp", kye="loss", lazy=True)


def test_through_the_logger(local_uri: str) -> None:
    log = eventlog.open(local_uri)
    exp = log.experiment("facade")
    for lr in (0.1, 0.2):
        with exp:
            exp.log_extra(tag=f"lr{lr}")
            exp.log_param("lr", lr)
            for step in range(3):
                exp.log_metric("train/loss", 1.0 / (step + 1) + lr, step=step)
    log.close()
    frame = query.data(local_uri, "facade", run=-1, key="train/*")
    assert isinstance(frame, pl.DataFrame)
    assert frame["value"].to_list() == pytest.approx([1.2, 0.7, 1 / 3 + 0.2])
    assert frame["tag"].unique().to_list() == ["lr0.2"]
    assert query.data(local_uri, "facade", run=[1, 2], event="param")["value"].to_list() == [0.1, 0.2]
