"""Exact pandas-`describe` statistics per group, in bounded memory over any number of rows.

Exact quantiles defeat a streaming engine (every group's values must be held and sorted), so
they are found by selection instead, in two streaming passes over only the columns needed:

1. one group-by over (group, bucket), where a bucket is the top bits of the value's IEEE-754
   bit pattern (with the bits of negative numbers flipped, that integer sorts exactly like the
   float, so buckets are order-preserving): per bucket its count, mean, variance, min, max and
   the min/max order key. Combining the buckets gives each group's count, mean, std (the exact
   two-level sum of squares: within buckets plus between their means), min and max, and the
   histogram that says which bucket holds each rank the quartiles need;
2. one filter that keeps only the rows of those buckets (at most six per group) and the rows
   holding each group's first and last order key; sorting that handful gives the exact order
   statistics and first/last.

Quantiles are then interpolated exactly as numpy's `linear` method does (pandas' `describe`
calls it), so they match pandas bit for bit; mean and std match to rounding. NaN values count
as missing, as in pandas; `first`/`last` are the values (NaN included) of the first/last event
in (step, dt, seq) order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

__all__ = [
    "DEFAULT_BUCKET_BITS",
    "ORDER",
    "QUANTILES",
    "STAT_COLUMNS",
    "Aside",
    "describe",
    "describe_with_aside",
    "order_key",
    "order_key_times",
]

#: The statistics columns, in order (pandas `describe` plus first and last).
STAT_COLUMNS = ["count", "mean", "std", "min", "25%", "50%", "75%", "max", "first", "last"]
#: The quantiles reported, with their column names.
QUANTILES = {"25%": 0.25, "50%": 0.5, "75%": 0.75}
#: Events are ordered by these columns for first/last ("last" is the latest logged; nulls first).
ORDER = ["step", "dt", "seq"]
#: Mantissa bits in a bucket id: 2**7 buckets per power of two. Fewer bits mean a smaller
#: histogram (many small groups, e.g. per run) but more rows fetched by the second pass: at 10M
#: events, 7 bits against 8 made the first pass's group-by cheaper (summary 1.58 -> 1.49 s) for
#: 30 MB more peak RSS (177 -> 208 MB); 6 bits was faster still but above DuckDB's RSS (275 MB).
DEFAULT_BUCKET_BITS = 7
#: Up to this many groups, the second pass filters with `is_in` on value lists (cheap per row);
#: beyond, with semi-joins.
_FEW_GROUPS = 2_000

_V = "__value"
_FLIP = (1 << 63) - 1
_ENGINE: Literal["streaming"] = "streaming"


def _sortable_bits(value: pl.Expr) -> pl.Expr:
    """An Int64 that orders exactly like the (non-NaN) Float64 `value`."""
    bits = value.reinterpret(dtype=pl.Int64)
    return pl.when(bits < 0).then(bits.xor(pl.lit(_FLIP, dtype=pl.Int64))).otherwise(bits)


def _empty(groups: list[str], schema: pl.Schema) -> pl.DataFrame:
    spec: dict[str, pl.DataType | type[pl.DataType]] = {g: schema[g] for g in groups}
    spec.update({c: pl.Float64 for c in STAT_COLUMNS})
    return pl.DataFrame(schema=spec)


@dataclass(frozen=True)
class Aside:
    """Other rows for `describe_with_aside` to collect in its second pass, which reads every file anyway.

    Attributes:
        where: which rows of the (unfiltered) frame to collect.
        columns: the columns to keep of them.
    """

    where: pl.Expr
    columns: list[str]


def describe(
    frame: pl.LazyFrame,
    groups: list[str],
    value: str = "value",
    *,
    bucket_bits: int = DEFAULT_BUCKET_BITS,
    in_memory: bool = False,
) -> pl.DataFrame:
    """count, mean, std, min, 25%, 50%, 75%, max, first, last of `value` per group, exactly.

    Args:
        frame: events with the `groups` columns, `value` and the ordering columns step, dt, seq.
        groups: the columns to group by (at least one, e.g. `["event", "key"]`).
        value: the Float64 column to describe.
        bucket_bits: mantissa bits per histogram bucket, 1 to 20 (see `DEFAULT_BUCKET_BITS`).
        in_memory: read the needed columns once and run both passes in memory (for small data).

    Returns:
        One row per group, sorted by the groups, with the columns of `STAT_COLUMNS` (count as
        Int64: a count is a whole number, where pandas gives a float; the other statistics
        null for a group without values).

    Raises:
        ValueError: `bucket_bits` is out of range.
    """
    return describe_with_aside(frame, groups, value, bucket_bits=bucket_bits, in_memory=in_memory)[0]


def describe_with_aside(
    frame: pl.LazyFrame,
    groups: list[str],
    value: str = "value",
    *,
    where: pl.Expr | None = None,
    aside: Aside | None = None,
    bucket_bits: int = DEFAULT_BUCKET_BITS,
    in_memory: bool = False,
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """`describe` of the rows of `frame` that `where` selects, and the rows `aside` selects.

    The aside rows come from the second pass over the files, so they cost no read of their own
    (`summary`'s run durations from start/stop events: a third scan before, 0.25 s of 1.9 s
    at 10M events).

    Args:
        frame: events, unfiltered.
        groups, value, bucket_bits, in_memory: as for `describe`.
        where: selects the rows described (None: all).
        aside: other rows to collect (None: none).

    Returns:
        (the statistics as `describe` returns them, the aside rows or None without `aside`).

    Raises:
        ValueError: `bucket_bits` is out of range.
    """
    if not 1 <= bucket_bits <= 20:
        raise ValueError(f"bucket_bits must be between 1 and 20 (bucket ids are Int32), got {bucket_bits}")
    schema = frame.collect_schema()
    v = pl.col(_V)
    columns = [*groups, *ORDER, pl.col(value).alias("__raw"), pl.col(value).fill_nan(None).alias(_V)]
    base = (frame if where is None else frame.filter(where)).select(columns)
    if in_memory:
        base = base.collect(engine=_ENGINE).lazy()
    buckets = (
        base.with_columns(order_key().alias("__k"), _bucket_expr(bucket_bits).alias("__bucket"))
        .group_by([*groups, "__bucket"])
        .agg(
            v.count().cast(pl.Int64).alias("__n"),
            v.mean().alias("__mean"),
            v.var(ddof=0).alias("__var"),
            v.min().alias("__min"),
            v.max().alias("__max"),
            pl.col("__k").min().alias("__kmin"),
            pl.col("__k").max().alias("__kmax"),
        )
        .collect(engine=_ENGINE)
    )
    if buckets.height == 0:
        return _empty(groups, schema), _aside_alone(frame, aside)
    stats = _combine(buckets, groups)
    histogram = (
        buckets.filter(pl.col("__n") > 0)
        .sort([*groups, "__bucket"], nulls_last=True)
        .with_columns(pl.col("__n").cum_sum().over(groups).alias("__end"))
    )
    targets = _targets(stats, groups)
    ranks = pl.concat([targets.select(*groups, pl.col(side).alias("__rank")) for side in ("lo", "hi")]).unique()
    located = _locate(ranks, histogram, groups)
    if aside is not None and not in_memory and stats.height <= _FEW_GROUPS:
        # one read for both: each row flagged as described (`__main`) and/or set aside (`__aside`)
        extra = [c for c in aside.columns if c not in [*groups, *ORDER]]
        main = pl.lit(True) if where is None else where
        wide = frame.select([*columns, *extra, main.alias("__main"), aside.where.alias("__aside")])
        in_buckets, at_edges, set_aside = _fetch_few(wide, groups, stats, located, bucket_bits, aside=True)
        set_aside = set_aside.select(aside.columns) if set_aside is not None else None
    else:
        in_buckets, at_edges = _fetch(base, groups, stats, located, bucket_bits)
        set_aside = _aside_alone(frame, aside)
    edges = _edges(at_edges, groups, stats)
    quantiles = _quantiles(in_buckets.filter(v.is_not_null()), groups, targets, located)
    result = stats.join(edges, on=groups, how="left", nulls_equal=True).join(quantiles, on=groups, how="left", nulls_equal=True)
    return result.select([*groups, *STAT_COLUMNS]).sort(groups, nulls_last=True), set_aside


def _aside_alone(frame: pl.LazyFrame, aside: Aside | None) -> pl.DataFrame | None:
    """The aside rows, read on their own (small data, many groups, or nothing described)."""
    return None if aside is None else frame.filter(aside.where).select(aside.columns).collect(engine=_ENGINE)


def _combine(buckets: pl.DataFrame, groups: list[str]) -> pl.DataFrame:
    """Per group: count, mean, std (ddof=1), min, max and the order-key range, from its buckets."""
    n = pl.col("__n")
    per_group = buckets.group_by(groups).agg(
        n.sum().alias("__count"),
        (n.cast(pl.Float64) * pl.col("__mean")).sum().alias("__sum"),
        pl.col("__min").min().alias("min"),
        pl.col("__max").max().alias("max"),
        pl.col("__kmin").min(),
        pl.col("__kmax").max(),
    )
    per_group = per_group.with_columns(
        pl.when(pl.col("__count") > 0).then(pl.col("__sum") / pl.col("__count")).alias("mean")
    )
    # sum of squares = within buckets + between bucket means and the group mean (exact algebra,
    # stable numerics: every term is a deviation around a nearby mean)
    squares = (
        buckets.filter(n > 0)
        .join(per_group.select(*groups, "mean"), on=groups, how="left", nulls_equal=True)
        .group_by(groups)
        .agg((pl.col("__var") * n + n * (pl.col("__mean") - pl.col("mean")) ** 2).sum().alias("__m2"))
    )
    per_group = per_group.join(squares, on=groups, how="left", nulls_equal=True)
    count = pl.col("__count")
    return per_group.with_columns(
        count.cast(pl.Int64).alias("count"),
        pl.when(count > 1).then((pl.col("__m2") / (count - 1)).sqrt()).alias("std"),
    )


def _fetch(
    frame: pl.LazyFrame, groups: list[str], stats: pl.DataFrame, located: pl.DataFrame, bits: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The second pass: (the rows of the wanted buckets, the rows at each group's first/last order key).

    Kept apart, not de-duplicated: two identical events must both count in their bucket.
    """
    if stats.height <= _FEW_GROUPS:
        in_buckets, at_edges, _ = _fetch_few(frame, groups, stats, located, bits, aside=False)
        return in_buckets, at_edges
    edge_keys = _edge_keys(stats, groups)
    wanted = located.select(*groups, "__bucket").unique()
    clean = frame.with_columns(order_key().alias("__k"), _bucket_expr(bits).alias("__bucket"))
    by_key = clean.join(edge_keys.lazy(), on=[*groups, "__k"], how="semi", nulls_equal=True).collect(engine=_ENGINE)
    by_bucket = clean.join(wanted.lazy(), on=[*groups, "__bucket"], how="semi", nulls_equal=True).collect(engine=_ENGINE)
    return by_bucket, by_key


def _fetch_few(
    frame: pl.LazyFrame, groups: list[str], stats: pl.DataFrame, located: pl.DataFrame, bits: int, *, aside: bool
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame | None]:
    """`_fetch` for few groups: one filter by value lists, made exact in memory. With `aside`, the
    frame has the flags `__main` and `__aside` (see `describe_with_aside`), and the rows set aside
    are returned third."""
    edge_keys = _edge_keys(stats, groups)
    wanted = located.select(*groups, "__bucket").unique()
    bucket = _bucket_expr(bits)
    # a superset by value alone (cheap per row: the Int128 key is only built for the rows kept)
    edge_dts = order_key_times(edge_keys["__k"])
    keep = pl.col(ORDER[1]).dt.epoch("ns").is_in(edge_dts.implode()) | bucket.is_in(wanted["__bucket"].implode())
    set_aside = None
    if aside:
        rows = frame.filter((pl.col("__main") & keep) | pl.col("__aside")).collect(engine=_ENGINE)
        set_aside = rows.filter(pl.col("__aside"))
        rows = rows.filter(pl.col("__main"))
    else:
        rows = frame.filter(keep).collect(engine=_ENGINE)
    rows = rows.with_columns(order_key().alias("__k"), bucket.alias("__bucket"))
    keep_bucket = rows.join(wanted, on=[*groups, "__bucket"], how="semi", nulls_equal=True)
    keep_edges = rows.join(edge_keys, on=[*groups, "__k"], how="semi", nulls_equal=True)
    return keep_bucket, keep_edges, set_aside


def _edge_keys(stats: pl.DataFrame, groups: list[str]) -> pl.DataFrame:
    """Each group's first and last order key, as rows (group, `__k`)."""
    return pl.concat(
        [stats.select(*groups, pl.col("__kmin").alias("__k")), stats.select(*groups, pl.col("__kmax").alias("__k"))]
    ).unique()


def _bucket_expr(bits: int) -> pl.Expr:
    return (_sortable_bits(pl.col(_V)) // (1 << (52 - bits))).cast(pl.Int32)


def _edges(rows: pl.DataFrame, groups: list[str], stats: pl.DataFrame) -> pl.DataFrame:
    """The value of the first and last event of each group, from the rows holding their order keys."""
    rows = rows.join(stats.select(*groups, "__kmin", "__kmax"), on=groups, how="inner", nulls_equal=True)
    # rows keep their order within a group: sorted by seq, the first/last tied row wins
    return rows.sort(ORDER[2]).group_by(groups).agg(
        pl.col("__raw").filter(pl.col("__k") == pl.col("__kmin")).first().alias("first"),
        pl.col("__raw").filter(pl.col("__k") == pl.col("__kmax")).last().alias("last"),
    )


def order_key() -> pl.Expr:
    """An Int128 that orders events by (step, dt) with null steps first: min/max of it stream.

    Ties (same step and dt) are broken by `seq` once the few tied rows are fetched.

    Returns:
        The expression (needs the `step` and `dt` columns).
    """
    step = pl.col(ORDER[0]).fill_null(-(1 << 62)).cast(pl.Int128)  # below any real step, no overflow
    return step * (1 << 64) + pl.col(ORDER[1]).dt.epoch("ns").cast(pl.Int128)


def order_key_times(keys: pl.Series) -> pl.Series:
    """The `dt` of each `order_key()` value, in ns since the epoch (the key's low 64 bits, signed).

    Args:
        keys: Int128 order keys; nulls are dropped.

    Returns:
        An Int64 Series, one value per non-null key, in order.
    """
    half = 1 << 63
    return pl.Series([((int(k) + half) % (1 << 64)) - half for k in keys.drop_nulls().to_list()], dtype=pl.Int64)


def _targets(stats: pl.DataFrame, groups: list[str]) -> pl.DataFrame:
    """One row per (group, quantile): the two ranks to interpolate between and the weight."""
    rows = []
    n = pl.col("__count")
    for name, q in QUANTILES.items():
        pos = (n - 1).cast(pl.Float64) * q  # exact: q is dyadic, n < 2**50
        rows.append(
            stats.filter(n > 0).select(
                *groups,
                pl.lit(name).alias("quantile"),
                pos.floor().cast(pl.Int64).alias("lo"),
                pl.min_horizontal(pos.floor().cast(pl.Int64) + 1, n - 1).alias("hi"),
                (pos - pos.floor()).alias("t"),
            )
        )
    return pl.concat(rows)


def _locate(ranks: pl.DataFrame, histogram: pl.DataFrame, groups: list[str]) -> pl.DataFrame:
    """For each (group, rank): the bucket holding that order statistic and the bucket's first rank."""
    right = histogram.select(*groups, "__bucket", "__end", (pl.col("__end") - pl.col("__n")).alias("__start"))
    left = ranks.with_columns((pl.col("__rank") + 1).alias("__end"))
    # the first bucket whose cumulative count exceeds the rank holds it
    found = left.sort("__end").join_asof(right.sort("__end"), on="__end", by=groups, strategy="forward", check_sortedness=False)
    return found.select(*groups, "__rank", "__bucket", "__start")


def _quantiles(values: pl.DataFrame, groups: list[str], targets: pl.DataFrame, located: pl.DataFrame) -> pl.DataFrame:
    """The quartiles per group from the fetched rows of the located buckets."""
    if targets.height == 0:
        return targets.select(*groups).with_columns(pl.lit(None, dtype=pl.Float64).alias(c) for c in QUANTILES)
    picked = values.group_by([*groups, "__bucket"]).agg(pl.col(_V).sort().alias("__sorted"))
    order_stats = located.join(picked, on=[*groups, "__bucket"], how="left", nulls_equal=True).select(
        *groups, "__rank", pl.col("__sorted").list.get(pl.col("__rank") - pl.col("__start")).alias("__x")
    )
    lo = order_stats.rename({"__rank": "lo", "__x": "a"})
    hi = order_stats.rename({"__rank": "hi", "__x": "b"})
    joined = targets.join(lo, on=[*groups, "lo"], how="left", nulls_equal=True).join(
        hi, on=[*groups, "hi"], how="left", nulls_equal=True
    )
    diff = pl.col("b") - pl.col("a")
    # numpy's _lerp: a + (b - a) * t, computed from the upper end when t >= 0.5
    lerp = pl.when(pl.col("t") >= 0.5).then(pl.col("b") - diff * (1 - pl.col("t"))).otherwise(pl.col("a") + diff * pl.col("t"))
    long = joined.select(*groups, "quantile", lerp.alias("__q"))
    return long.pivot(on="quantile", index=groups, values="__q").select([*groups, *QUANTILES])
