"""Spark as the engine past one machine (DESIGN §14): the same folds as the polars layer, in Spark SQL.

`events()` loads a store's exact snapshot as a Spark DataFrame: the manifest's compacted files
plus the raw segments it does not cover (never a bare glob, which would double-count), pruned
by experiment and date before Spark lists anything, deduplicated by event id `(writer, seq)`.
`seg/` and `cmp/` are read each with its own `basePath` (one cannot cover both) and unioned by
name, with the schema pinned, so an experiment named `2024` stays a string and `date` a date.
`summary()` and `runs()` compute what `query.summary` and `query.runs` compute, with the same
columns: exact quartiles with Spark's `percentile` (linear, as pandas' `describe`), NaN counted as
missing, first/last by `(step, dt, seq)` with `min_by`/`max_by`.

Spark 4 reads the microsecond `dt` natively; stores written before microseconds need one
`eventlog compact` first (Spark refuses nanosecond Parquet timestamps). For S3, the cluster needs
the `hadoop-aws` jars (`spark.jars.packages=org.apache.hadoop:hadoop-aws:<its Hadoop version>`):
this module turns `s3://` into `s3a://` (docs/spark.md).

PySpark is an optional extra (`pip install eventlog[spark]`); nothing else imports this module.
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Any

from eventlog.core.store import Store
from query.filters import REGEX_PREFIX, Filter, glob_to_regex, is_everything, is_pattern
from query.runs import CRASH_AFTER_SECONDS, RUN_COLUMNS
from query.scan import as_store, select_files
from query.snapshot import take_snapshot
from query.timefilters import parse_time

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = ["compare", "events", "runs", "summary"]

_ORDER = ("step", "dt", "seq")
_STATS = ["count", "mean", "std", "min", "25%", "50%", "75%", "max", "first", "last"]


def _schema() -> Any:
    """The Spark schema of a scan: the file columns plus the partition columns, pinned."""
    from pyspark.sql import types as T

    return T.StructType(
        [
            T.StructField("run", T.LongType()),
            T.StructField("step", T.LongType()),
            T.StructField("event", T.StringType()),
            T.StructField("key", T.StringType()),
            T.StructField("value", T.DoubleType()),
            T.StructField("value_json", T.StringType()),
            T.StructField("dt", T.TimestampType()),
            T.StructField("node", T.StringType()),
            T.StructField("userid", T.StringType()),
            T.StructField("rank", T.LongType()),
            T.StructField("writer", T.StringType()),
            T.StructField("seq", T.LongType()),
            T.StructField("extra", T.MapType(T.StringType(), T.StringType())),
            T.StructField("experiment", T.StringType()),
            T.StructField("date", T.DateType()),
        ]
    )


def _spark_url(store: Store, path: str) -> str:
    url = store.url(path)
    if url.startswith("s3://"):
        return "s3a://" + url.removeprefix("s3://")
    return url if "://" in url else "file://" + url


def events(
    spark: SparkSession, store: Store | str | None, experiment: Filter = "*", *, since: Filter = None, end: Filter = None
) -> DataFrame:
    """The events of the store's current snapshot as a Spark DataFrame (every column of a scan).

    Args:
        spark: the session (`local[2]`, or a cluster that can read the store's URLs).
        store: a Store or URI.
        experiment: a name, a list, `*`, a glob or `re:`.
        since: events at or after this time (as `query.scan`).
        end: events at or before this time.

    Returns:
        The DataFrame, one row per event (deduplicated by `(writer, seq)`).

    Raises:
        InvalidFilterError: a malformed time or regex.
    """
    from pyspark.sql import functions as F

    resolved = as_store(store)
    lower, upper = parse_time(since, name="since"), parse_time(end, name="end")
    snapshot = select_files(take_snapshot(resolved, experiment), since=lower, end=upper)
    schema = _schema()
    frames = []
    for area in ("seg", "cmp"):
        files = [_spark_url(resolved, f.path) for f in snapshot.files if f.path.startswith(area + "/")]
        if files:
            base = _spark_url(resolved, area)
            frames.append(spark.read.schema(schema).option("basePath", base).parquet(*files))
    if not frames:
        return spark.createDataFrame([], schema)
    frame = frames[0] if len(frames) == 1 else frames[0].unionByName(frames[1])
    frame = frame.dropDuplicates(["writer", "seq"])
    if lower is not None:
        frame = frame.where(F.col("dt") >= F.lit(lower))
    if upper is not None:
        frame = frame.where(F.col("dt") <= F.lit(upper))
    return frame


def _match(column: str, value: Any) -> Column | None:
    """The Spark predicate of a filter value (a value, a list, `*`, a glob or `re:`), as `query.filters`."""
    from pyspark.sql import functions as F

    if is_everything(value):
        return None
    if isinstance(value, (list, tuple, set, frozenset)):
        parts = [p for p in (_match(column, v) for v in value) if p is not None]
        combined = parts[0] if parts else F.lit(False)
        for part in parts[1:]:
            combined = combined | part
        return combined
    if is_pattern(value):
        regex = value[len(REGEX_PREFIX) :] if value.startswith(REGEX_PREFIX) else glob_to_regex(value)
        return F.col(column).cast("string").rlike(regex)
    return F.col(column) == F.lit(value)


def _filtered(frame: DataFrame, **filters: Filter) -> DataFrame:
    for column, value in filters.items():
        predicate = _match(column, value)
        if predicate is not None:
            frame = frame.where(predicate)
    return frame


def _seconds_between(end: Column, start: Column) -> Column:
    """`end - start` in seconds, computed as `query.timefilters.seconds_between` does (same bits)."""
    from pyspark.sql import functions as F

    nanos = (F.unix_micros(end) - F.unix_micros(start)) * 1000
    return F.floor(nanos / 1_000_000_000).cast("double") + F.pmod(nanos, F.lit(1_000_000_000)).cast("double") / 1e9


def _describe(frame: DataFrame, groups: list[str]) -> DataFrame:
    """count, mean, std, min, quartiles, max, first, last of `value` per group (as `query.describe`)."""
    from pyspark.sql import functions as F

    value = F.when(F.isnan("value"), None).otherwise(F.col("value"))
    order = F.struct(*[F.col(c) for c in _ORDER])
    quartiles = F.percentile(value, F.array(F.lit(0.25), F.lit(0.5), F.lit(0.75)))
    stats = frame.groupBy(*groups).agg(
        F.count(value).alias("count"),
        F.avg(value).alias("mean"),
        F.stddev_samp(value).alias("std"),
        F.min(value).alias("min"),
        quartiles.alias("__q"),
        F.max(value).alias("max"),
        F.min_by("value", order).alias("first"),
        F.max_by("value", order).alias("last"),
    )
    return stats.select(
        *groups,
        "count",
        "mean",
        "std",
        "min",
        F.col("__q")[0].alias("25%"),
        F.col("__q")[1].alias("50%"),
        F.col("__q")[2].alias("75%"),
        "max",
        "first",
        "last",
    ).orderBy(*groups)


def summary(
    spark: SparkSession,
    store: Store | str | None,
    experiment: Filter = "*",
    *,
    run: Filter = "*",
    by_run: bool = False,
    latency: bool = True,
    event: Filter = "metric",
    key: Filter = None,
    since: Filter = None,
    end: Filter = None,
) -> DataFrame:
    """`query.summary` in Spark SQL: the same groups and `STAT_COLUMNS`, the same latency row.

    Args:
        spark: the session.
        store: a Store or URI.
        experiment: the experiment(s).
        run: a run, a list of runs or `*` (negative runs are not resolved here).
        by_run: one row per (experiment, run, event, key).
        latency: add the (`metric`, `latency`) rows: the runs' durations in seconds.
        event: event kind(s) (default `metric`).
        key: key(s) or a pattern.
        since: lower time bound.
        end: upper time bound.

    Returns:
        A Spark DataFrame with the group columns and count, mean, std, min, 25%, 50%, 75%, max,
        first, last; sorted by the groups (collect it, or `.toPandas()`, for a small result).
    """
    from pyspark.sql import functions as F

    groups = ["experiment", "run", "event", "key"] if by_run else ["event", "key"]
    scanned = _filtered(events(spark, store, experiment, since=since, end=end), run=run)
    metrics = _filtered(scanned, event=event, key=key).where(F.col("value").isNotNull())
    stats = _describe(metrics, groups)
    if not (latency and _matches_literal("metric", event) and _matches_literal("latency", key)):
        return stats
    per_run = (
        scanned.where(F.col("event").isin("start", "stop"))
        .groupBy("experiment", "run")
        .agg(
            F.min(F.when(F.col("event") == "start", F.col("dt"))).alias("start"),
            F.max(F.when(F.col("event") == "stop", F.col("dt"))).alias("end"),
        )
        .where(F.col("start").isNotNull() & F.col("end").isNotNull())
    )
    rows = per_run.select(
        "experiment",
        "run",
        F.lit("metric").alias("event"),
        F.lit("latency").alias("key"),
        _seconds_between(F.col("end"), F.col("start")).alias("value"),
        F.lit(None).cast("long").alias("step"),
        F.col("start").alias("dt"),
        F.lit(0).cast("long").alias("seq"),
    )
    # as query.summary: the latency rows after the others
    both = stats.withColumn("__part", F.lit(0)).unionByName(_describe(rows, groups).withColumn("__part", F.lit(1)))
    return both.orderBy("__part", *groups).drop("__part")


def _matches_literal(text: str, value: Any) -> bool:
    import re

    if is_everything(value):
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_matches_literal(text, v) for v in value)
    if is_pattern(value):
        regex = value[len(REGEX_PREFIX) :] if value.startswith(REGEX_PREFIX) else glob_to_regex(value)
        return re.search(regex, text) is not None
    return bool(value == text)


def runs(
    spark: SparkSession,
    store: Store | str | None,
    experiment: Filter = "*",
    *,
    now: _dt.datetime | None = None,
) -> DataFrame:
    """`query.runs` in Spark SQL: one row per run with `RUN_COLUMNS`, then `param.*`, `metric.*`, `tag.*`.

    Args:
        spark: the session.
        store: a Store or URI.
        experiment: the experiment(s).
        now: the time to judge `running` against (default: now).

    Returns:
        A Spark DataFrame sorted by experiment and run; a parameter logged as an integer stays a
        long, other numbers are doubles, anything else its JSON text (a string without quotes).
    """
    from pyspark.sql import functions as F

    frame = events(spark, store, experiment)
    run_key = ["experiment", "run"]
    now = now or _dt.datetime.now(_dt.UTC)
    window = _dt.timedelta(seconds=CRASH_AFTER_SECONDS)
    first_of_start = F.struct(F.when(F.col("event") == "start", 0).otherwise(1), "dt", "seq")
    base = frame.groupBy(*run_key).agg(
        F.min(F.when(F.col("event") == "start", F.col("dt"))).alias("start"),
        F.max(F.when(F.col("event") == "stop", F.col("dt"))).alias("end"),
        F.max("dt").alias("_last_dt"),
        F.max(F.when(F.col("event").isin("start", "system"), F.col("dt"))).alias("_alive_dt"),
        F.max_by(F.when(F.col("event") == "stop", F.col("value_json")), F.struct(F.col("event") == "stop", "dt", "seq")).alias("_stop"),
        F.min_by("node", F.struct(F.col("event") == "metric", first_of_start)).alias("node"),
        F.min_by("userid", F.struct(F.col("event") == "metric", first_of_start)).alias("userid"),
    )
    alive = F.coalesce("_alive_dt", "_last_dt")
    status = (
        F.when(F.col("_stop").isNotNull(), F.coalesce(F.get_json_object("_stop", "$.status"), F.lit("completed")))
        .when(alive.between(F.lit(now - window), F.lit(now + window)), F.lit("running"))
        .otherwise(F.lit("crashed"))
    )
    table = base.select(
        *run_key,
        status.alias("status"),
        "start",
        "end",
        _seconds_between(F.coalesce("end", "_last_dt"), F.col("start")).alias("duration_s"),
        "node",
        "userid",
        F.get_json_object("_stop", "$.error").alias("error"),
    )
    last = (
        frame.where(F.col("event").isin("param", "metric", "tag"))
        .groupBy(*run_key, "event", "key")
        .agg(F.max_by(F.struct("value", "value_json"), F.struct(*[F.col(c) for c in _ORDER])).alias("_last"))
        .select(*run_key, "event", "key", "_last.value", "_last.value_json")
    )
    for kind, prefix in (("param", "param."), ("metric", "metric."), ("tag", "tag.")):
        table = _join_wide(table, last.where(F.col("event") == kind), prefix)
    wide = [sorted(c for c in table.columns if c.startswith(prefix)) for prefix in ("param.", "metric.", "tag.")]
    ordered = [*RUN_COLUMNS, *wide[0], *wide[1], *wide[2]]
    return table.select(*[F.col(f"`{c}`") for c in ordered]).orderBy(*run_key)


def _join_wide(table: DataFrame, part: DataFrame, prefix: str) -> DataFrame:
    """Pivot one kind's last values into `<prefix><key>` columns (typed as `query.runs._wide` types them)."""
    from pyspark.sql import functions as F

    kinds = part.groupBy("key").agg(
        F.bool_and(F.col("value").isNotNull()).alias("numeric"),
        F.bool_and(F.coalesce(F.col("value_json").rlike(r"^-?\d+$"), F.lit(False))).alias("integral"),
    ).collect()
    if not kinds:
        return table
    text = F.coalesce(
        F.col("value").cast("string"),
        F.when(F.col("value_json").startswith('"'), F.get_json_object("value_json", "$")),
        F.col("value_json"),
    )
    for row in kinds:
        key = row["key"]
        column = F.col("value") if row["numeric"] else text
        if row["numeric"] and row["integral"]:
            column = column.cast("long")
        piece = part.where(F.col("key") == key).select("experiment", "run", column.alias(prefix + key))
        table = table.join(piece, on=["experiment", "run"], how="left")
    return table


def compare(
    spark: SparkSession,
    store: Store | str | None,
    experiment: Filter,
    metric: str,
    mode: str = "max",
    *,
    by: str = "last",
    now: _dt.datetime | None = None,
) -> DataFrame:
    """`query.compare` in Spark SQL: runs side by side, ranked by one metric's last or best value.

    Args:
        spark: the session.
        store: a Store or URI.
        experiment: the experiment(s).
        metric: the metric key to rank by (taken literally).
        mode: `max` (higher is better) or `min`.
        by: rank by the metric's `last` value or its `best` over the run.
        now: the time to judge `running` against.

    Returns:
        Columns rank, experiment, run, status, `<metric>`, `<metric>.best`, `<metric>.best_step`,
        duration_s, the `param.*` columns, then the other columns of `runs()`; best run first,
        runs without the metric last.

    Raises:
        ValueError: `mode` or `by` is not one of the allowed values.
        MetricNotFoundError: no run logged `metric`.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from eventlog.errors import MetricNotFoundError

    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
    if by not in ("last", "best"):
        raise ValueError(f"by must be 'last' or 'best', got {by!r}")
    table = runs(spark, store, experiment, now=now)
    column = f"metric.{metric}"
    if column not in table.columns:
        known = sorted(c.removeprefix("metric.") for c in table.columns if c.startswith("metric."))
        raise MetricNotFoundError(f"no run logged metric {metric!r}; metrics are: {', '.join(known) or 'none'}")
    descending = mode == "max"
    history = events(spark, store, experiment).where(
        (F.col("event") == "metric") & (F.col("key") == metric) & ~F.isnan("value")
    )
    # the best step: the first event at the best value, earliest dt first (as polars' sort_by)
    rank_value = F.col("value") if not descending else -F.col("value")
    best = history.groupBy("experiment", "run").agg(
        (F.max("value") if descending else F.min("value")).alias(f"{metric}.best"),
        F.min_by("step", F.struct(rank_value, F.col("dt"))).alias(f"{metric}.best_step"),
    )
    table = table.join(best, on=["experiment", "run"], how="left").withColumnRenamed(column, metric)
    rank_by = F.col(f"`{metric}`" if by == "last" else f"`{metric}.best`")
    rank_by = F.when(F.isnan(rank_by), None).otherwise(rank_by)
    order = (rank_by.desc_nulls_last() if descending else rank_by.asc_nulls_last(), F.col("experiment"), F.col("run"))
    table = table.withColumn("rank", F.row_number().over(Window.orderBy(*order)).cast("long"))
    first = ["rank", "experiment", "run", "status", metric, f"{metric}.best", f"{metric}.best_step", "duration_s"]
    params = [c for c in table.columns if c.startswith("param.")]
    others = [c for c in table.columns if c not in first and c not in params and c not in RUN_COLUMNS]
    return table.select(*[F.col(f"`{c}`") for c in [*first, *params, *others]]).orderBy("rank")
