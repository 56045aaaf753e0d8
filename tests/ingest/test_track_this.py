"""`eventlog.track_this`: runnable/magnus style logging into the innermost active run."""

from __future__ import annotations

import json

import polars as pl
import pytest
from pydantic import BaseModel, Field

import eventlog
from eventlog.errors import NoActiveRunError


class Config(BaseModel):
    learning_rate: float = Field(alias="lr")
    layers: list[int]


def test_track_this_logs_into_innermost_run(local_uri: str) -> None:
    log = eventlog.open(local_uri)
    outer, inner = log.experiment("outer"), log.experiment("inner")
    try:
        with outer:
            eventlog.track_this(loss=0.5)
            with inner:
                eventlog.track_this(step=3, acc=0.75, config=Config(lr=0.1, layers=[64, 32]), name="resnet")
            eventlog.track_this(step=1, loss=0.25)
        o = outer.data(event="metric").sort("step")
        assert o["key"].to_list() == ["loss", "loss"] and o["step"].to_list() == [0, 1]
        assert o["value"].to_list() == [0.5, 0.25]
        i = inner.data(event="metric")
        rows = {k: (v, j, s) for k, v, j, s in zip(i["key"], i["value"], i["value_json"], i["step"])}
        assert rows["acc"] == (0.75, None, 3)
        assert json.loads(rows["config"][1]) == {"lr": 0.1, "layers": [64, 32]}  # dumped by alias
        assert rows["name"][1] == '"resnet"'
    finally:
        log.close()


def test_track_this_without_run_raises(local_uri: str) -> None:
    log = eventlog.open(local_uri)
    try:
        exp = log.experiment("x")
        with exp:
            pass
        with pytest.raises(NoActiveRunError, match="inside `with exp:`"):
            eventlog.track_this(loss=1.0)
        assert exp.data(event="metric").filter(pl.col("key") == "loss").height == 0
    finally:
        log.close()
