"""Issue 17: the archive is plain Parquet with microsecond timestamps that every engine reads unchanged.

A store holding both files written before microseconds (nanosecond `dt`, as `testkit` writes them)
and files written now is read by eventlog as one; compaction rewrites the old ones in
microseconds; pyarrow, polars, pandas and DuckDB read every file of a snapshot as it is, with `dt`
a timestamp. (Spark reads them too: tests/query/test_spark.py, in `make test-spark`.)
"""

from __future__ import annotations

import datetime
import io

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import eventlog
import query
from eventlog.compaction.compactor import compact
from eventlog.core.store import open_store
from testkit import write_segments


@pytest.fixture
def mixed_store(local_uri: str) -> str:
    """Old nanosecond segments of `old` plus a real run of `new` logged now (microseconds)."""
    write_segments(open_store(local_uri), "old", segments=3, events=40)
    with eventlog.open(local_uri) as log, log.experiment("new") as exp:
        for step in range(25):
            exp.log_metric("loss", 1 / (step + 1), step=step)
    return local_uri


def _units(store_uri: str, prefix: str) -> set[str]:
    store = open_store(store_uri)
    return {str(pq.read_schema(io.BytesIO(store.read(f.path))).field("dt").type) for f in store.find(prefix)}


def test_old_and_new_files_read_together_and_compaction_rewrites_the_old(mixed_store: str) -> None:
    assert _units(mixed_store, "seg/experiment=old") == {"timestamp[ns, tz=UTC]"}
    assert _units(mixed_store, "seg/experiment=new") == {"timestamp[us, tz=UTC]"}
    before = query.data(mixed_store, ["old", "new"], run="*", event="*")
    assert before.schema["dt"] == pl.Datetime("us", "UTC") and before.height == 3 * 40 + 25 + 2
    compact(open_store(mixed_store))
    assert _units(mixed_store, "cmp") == {"timestamp[us, tz=UTC]"}
    after = query.data(mixed_store, ["old", "new"], run="*", event="*")
    order = ["experiment", "run", "event", "key", "step", "dt"]
    assert after.sort(order).equals(before.sort(order))


ENGINES = {
    "pyarrow": lambda paths: pa.concat_tables([pq.read_table(p) for p in paths]).to_pydict()["dt"],
    "polars": lambda paths: pl.concat([pl.read_parquet(p) for p in paths])["dt"].to_list(),
    "pandas": lambda paths: pd.concat([pd.read_parquet(p) for p in paths])["dt"].tolist(),
    "duckdb": lambda paths: [row[0] for row in duckdb.sql(f"select dt from read_parquet({paths!r})").fetchall()],
}


@pytest.mark.parametrize("engine", list(ENGINES))
def test_every_engine_reads_every_file_of_a_snapshot_unchanged(local_uri: str, engine: str) -> None:
    with eventlog.open(local_uri) as log:
        with log.experiment("e") as exp:
            for step in range(30):
                exp.log_metric("loss", float(step), step=step)
        log.flush()
        compact(open_store(local_uri), min_files=1)
        with log.experiment("e") as exp:  # a second run stays raw: the snapshot has both kinds of file
            exp.log_metric("loss", 99.0, step=0)
        log.flush()
    paths = query.files(local_uri, "e")
    assert any("/cmp/" in p for p in paths) and any("/seg/" in p for p in paths)
    stamps = ENGINES[engine](paths)
    assert len(stamps) == 30 + 1 + 4  # the events and two runs' start and stop
    assert all(isinstance(stamp, datetime.datetime) and stamp.year >= 2026 for stamp in stamps)  # a timestamp, not an int
