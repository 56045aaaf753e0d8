"""Issue 17: Spark on `local[2]` loads a store's exact snapshot and gives polars' numbers.

Run by `make test-spark` (Java from Debian's openjdk-17-jre-headless, PySpark from the `spark`
extra); marked `spark`, so `make test` leaves it out.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Any

import duckdb
import polars as pl
import pytest

import eventlog
import query
from eventlog.compaction.compactor import compact
from eventlog.core.store import open_store
from query import spark as on_spark

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("eventlog-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Two experiments (one named like a number), compacted files plus raw segments, NaNs, params, a failed run."""
    uri = str(tmp_path_factory.mktemp("spark") / "store")
    with eventlog.open(uri) as log:
        for name in ("mnist", "2024"):
            exp = log.experiment(name)
            for lr in (0.1, 0.01, 0.001):
                with exp:
                    exp.log_params({"lr": lr, "layers": 3, "opt": "adam"})
                    exp.set_tags({"team": "a"})
                    for step in range(200):
                        exp.log_metrics({"loss": 1 / (step + 1) + lr, "acc": step / 200 * (1 - lr)}, step=step)
                    exp.log_metric("val/loss", float("nan"), step=200)
                    exp.log_metric("val/loss", 0.5 - lr, step=201)
            log.flush()
            compact(open_store(uri), min_files=1)
        with pytest.raises(ValueError), log.experiment("mnist") as failed:  # a failed run, still raw
            failed.log_metric("loss", 3.0, step=0)
            raise ValueError("boom")
    return uri


def _close(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, dt.datetime) and isinstance(right, dt.datetime):  # Spark gives naive UTC datetimes
        return left.replace(tzinfo=dt.UTC) == right.astimezone(dt.UTC)
    if isinstance(left, float) and isinstance(right, float):
        if math.isnan(left) or math.isnan(right):
            return math.isnan(left) and math.isnan(right)
        return left == right or abs(left - right) <= 1e-12 * max(abs(left), abs(right))
    return bool(left == right)


def _rows(frame: pl.DataFrame) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in frame.rows()]


def _assert_same(spark_frame: Any, polars_frame: pl.DataFrame) -> None:
    got = spark_frame.collect()
    assert [list(r.asDict()) for r in got[:1]] == [polars_frame.columns] or not got
    assert len(got) == polars_frame.height
    for ours, theirs in zip(got, polars_frame.rows(), strict=True):
        for column, left, right in zip(polars_frame.columns, tuple(ours), theirs, strict=True):
            assert _close(left, right), (column, ours, theirs)


def test_the_snapshot_has_every_event_once(spark: Any, store: str) -> None:
    frame = on_spark.events(spark, store)
    expected = query.data(store, run="*", event="*")
    assert frame.count() == expected.height
    assert frame.select("experiment").distinct().count() == 2
    assert frame.schema["experiment"].dataType.simpleString() == "string"  # "2024" is a name, not a number
    assert frame.where("experiment = '2024'").count() == query.data(store, "2024", run="*", event="*").height


@pytest.mark.parametrize("by_run", [False, True])
def test_summary_equals_polars(spark: Any, store: str, by_run: bool) -> None:
    _assert_same(on_spark.summary(spark, store, by_run=by_run), query.summary(store, by_run=by_run))


def test_summary_of_one_experiment_and_key_pattern_equals_polars(spark: Any, store: str) -> None:
    ours = on_spark.summary(spark, store, "mnist", key="val/*")
    _assert_same(ours, query.summary(store, "mnist", key="val/*"))


def test_spark_duckdb_and_polars_give_the_same_summary(spark: Any, store: str) -> None:
    files = query.files(store)
    sql = f"""
        select key, count(value) as n, avg(value) as mean, stddev_samp(value) as std, min(value) as lo,
               quantile_cont(value, [0.25, 0.5, 0.75]) as q, max(value) as hi
        from read_parquet({files!r}, union_by_name=true)
        where event = 'metric' and value is not null and not isnan(value)  -- NaN is missing, as in pandas
        group by key order by key"""
    theirs = duckdb.sql(sql).fetchall()
    ours = on_spark.summary(spark, store, latency=False).collect()
    polars = query.summary(store, latency=False)
    assert [r["key"] for r in ours] == [row[0] for row in theirs] == polars["key"].to_list()
    for spark_row, duck_row, polars_row in zip(ours, theirs, polars.rows(named=True), strict=True):
        for ours_value, duck_value, polars_value in (
            (spark_row["count"], duck_row[1], polars_row["count"]),
            (spark_row["mean"], duck_row[2], polars_row["mean"]),
            (spark_row["std"], duck_row[3], polars_row["std"]),
            (spark_row["min"], duck_row[4], polars_row["min"]),
            (spark_row["25%"], duck_row[5][0], polars_row["25%"]),
            (spark_row["50%"], duck_row[5][1], polars_row["50%"]),
            (spark_row["75%"], duck_row[5][2], polars_row["75%"]),
            (spark_row["max"], duck_row[6], polars_row["max"]),
        ):
            assert _close(float(ours_value), float(duck_value)) and _close(float(ours_value), float(polars_value))


def test_runs_equals_polars(spark: Any, store: str) -> None:
    now = dt.datetime.now(dt.UTC)
    _assert_same(on_spark.runs(spark, store, now=now), query.runs(store, now=now))


@pytest.mark.parametrize(("metric", "mode", "by"), [("acc", "max", "last"), ("loss", "min", "best"), ("val/loss", "min", "last")])
def test_compare_equals_polars(spark: Any, store: str, metric: str, mode: str, by: str) -> None:
    now = dt.datetime.now(dt.UTC)
    ours = on_spark.compare(spark, store, "mnist", metric, mode, by=by, now=now)
    theirs = query.compare(store, "mnist", metric, mode, by=by)
    _assert_same(ours.drop("status"), theirs.drop("status"))  # status depends on `now`
