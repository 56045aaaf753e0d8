"""`import_jsonl`: JSON lines from any producer; bad lines are reported, the others imported."""

from __future__ import annotations

import io
import json

import polars as pl

import query
from eventlog.core.store import open_store
from ingest.importers import import_jsonl


def test_jsonl_round_trip(local_uri: str) -> None:
    store = open_store(local_uri)
    lines = [
        json.dumps({"experiment": "ext", "key": "loss", "value": 1 / (s + 1), "step": s, "dt": 1_700_000_000 + s})
        for s in range(10)
    ]
    lines.append(json.dumps({"experiment": "ext", "event": "param", "key": "model", "value": {"layers": 3}}))
    lines.append(
        json.dumps({"experiment": "ext", "key": "acc", "value": 0.5, "extra": {"tag": "v2"}, "dt": "2026-01-02T03:04:05Z"})
    )
    report = import_jsonl(store, io.StringIO("\n".join(lines) + "\n"))
    assert report.errors == [] and report.runs == 1
    assert report.events == 12 + 2  # plus start and stop
    frame = query.data(store, experiment="ext", run="*")
    loss = frame.filter(pl.col("key") == "loss").sort("step")
    assert loss["value"].to_list() == [1 / (s + 1) for s in range(10)]
    assert loss["dt"][3].timestamp() == 1_700_000_003
    assert [json.loads(v) for v in frame.filter(pl.col("key") == "model")["value_json"]] == [{"layers": 3}]
    acc = frame.filter(pl.col("key") == "acc")
    assert acc["tag"].to_list() == ["v2"] and str(acc["dt"][0]).startswith("2026-01-02 03:04:05")
    assert query.runs(store, "ext")["status"].to_list() == ["completed"]


def test_bad_lines_are_reported_and_skipped(local_uri: str) -> None:
    store = open_store(local_uri)
    stream = [
        b'{"experiment": "e", "run": 4, "key": "ok", "value": 1}\n',
        b"not json\n",
        b'{"experiment": "a/b", "key": "x", "value": 1}\n',
        b'{"experiment": "e", "key": "x", "step": "three"}\n',
        b"[1, 2]\n",
        b"\n",
        b'{"experiment": "e", "run": 4, "key": "ok2", "value": 2, "rank": 1}\n',
    ]
    report = import_jsonl(store, stream)
    assert report.skipped == 4
    assert [e.split(":")[0] for e in report.errors] == ["line 2", "line 3", "line 4", "line 5"]
    assert "path separator" in report.errors[1] and "'step' must be an integer" in report.errors[2]
    frame = query.data(store, experiment="e", run=4)
    assert sorted(frame["key"].to_list()) == ["ok", "ok2"]
    assert frame.filter(pl.col("key") == "ok2")["rank"].to_list() == [1]


def test_dt_forms_are_exact_including_before_1970(local_uri: str) -> None:
    store = open_store(local_uri)
    forms = [
        "1969-12-31T23:59:59.500000Z",  # int(timestamp()) truncated this to +0.5 s before
        "2025-11-23T01:00:00+01:00",
        1.25,  # seconds
        1_763_856_000_123_456_789,  # ns (above 1e14)
    ]
    lines = [json.dumps({"experiment": "when", "key": "m", "value": float(i), "step": i, "dt": dt}) for i, dt in enumerate(forms)]
    report = import_jsonl(store, io.StringIO("\n".join(lines) + "\n"))
    assert report.errors == []
    frame = query.data(store, experiment="when", run="*", event="metric").sort("step")
    nanos = frame["dt"].dt.epoch("ns").to_list()
    assert nanos == [-500_000_000, 1_763_856_000 * 10**9, 1_250_000_000, 1_763_856_000_123_456_000]  # files hold microseconds
