"""Every export with a reader reads back to the same events (issue 14): `eventlog data --format
json` and `eventlog tail --json`, piped into `eventlog import jsonl -`, over generated stores."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import eventlog
import query
from eventlog.cli.app import app

#: What an event is, for the comparison: its identity (writer, seq) is the importer's own.
COMPARED = ["run", "step", "event", "key", "value", "value_json", "dt", "tag"]

params = st.dictionaries(
    st.sampled_from(["lr", "optimizer", "layers", "config"]),
    st.one_of(st.integers(-1000, 1000), st.floats(-1e6, 1e6, allow_nan=False), st.text(max_size=8), st.lists(st.integers(0, 9), max_size=3)),
    max_size=3,
)
runs = st.lists(
    st.tuples(params, st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=1, max_size=5), st.sampled_from(["a", "b", "x y"])),
    min_size=1,
    max_size=3,
)


def _fill(uri: str, generated: list[tuple[dict[str, Any], list[float], str]]) -> None:
    with eventlog.open(uri) as log:
        exp = log.experiment("gen")
        for logged_params, losses, tag in generated:
            with exp:
                exp.log_extra(tag=tag)
                exp.log_params(logged_params)
                for step, loss in enumerate(losses):
                    exp.log_metric("loss", loss, step=step)


def _events(uri: str) -> pl.DataFrame:
    frame = query.data(uri, "gen", run="*")
    assert isinstance(frame, pl.DataFrame)
    if "tag" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("tag"))
    frame = frame.with_columns(pl.col("dt").dt.cast_time_unit("us").dt.cast_time_unit("ns"))  # JSON holds microseconds
    return frame.select(COMPARED).sort(COMPARED, nulls_last=True)


def _round_trip(source: str, export: list[str]) -> pl.DataFrame:
    runner = CliRunner()
    exported = runner.invoke(app, [*export, "--store", source])
    assert exported.exit_code == 0, exported.output
    target = f"{Path(source).parent}/imported-{uuid.uuid4().hex[:8]}"
    imported = runner.invoke(app, ["import", "jsonl", "-", "--store", target], input=exported.stdout)
    assert imported.exit_code == 0, imported.output
    return _events(target)


@settings(max_examples=12)
@given(generated=runs)
def test_data_json_and_tail_json_read_back_to_the_same_events(generated: list[tuple[dict[str, Any], list[float], str]]) -> None:
    # Regression: `data --format json | import jsonl -` imported 0 events ("expected a JSON object,
    # got list") and exited 0; `tail --json | import jsonl -` dropped string params, the stop's
    # status and the extras.
    with tempfile.TemporaryDirectory() as tmp:
        source = f"{tmp}/source"
        _fill(source, generated)
        original = _events(source)
        assert original.height > 0
        assert _round_trip(source, ["data", "gen", "--format", "json"]).equals(original)
        lines = str(original.height)
        assert _round_trip(source, ["tail", "gen", "--json", "--lines", lines, "--limit", "0"]).equals(original)
