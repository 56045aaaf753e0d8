"""`summary()` and `describe()`: pandas `describe` numbers exactly, first/last, latency, per run."""

from __future__ import annotations

import datetime as _dt
import importlib

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import query
from query.describe import DEFAULT_BUCKET_BITS, STAT_COLUMNS, describe, order_key, order_key_times

from .conftest import T0, Writer

#: Every test runs with both plans (see the `plan` fixture in conftest.py).
pytestmark = pytest.mark.usefixtures("plan")


S = _dt.timedelta(seconds=1)
EXACT = ["count", "min", "25%", "50%", "75%", "max"]


def _frame(keys: list[str], values: list[float], steps: list[int | None] | None = None) -> pl.LazyFrame:
    n = len(values)
    return pl.LazyFrame(
        {
            "event": ["metric"] * n,
            "key": keys,
            "value": values,
            "step": steps if steps is not None else list(range(n)),
            "dt": [T0 + i * S for i in range(n)],
            "seq": list(range(n)),
        },
        schema_overrides={"value": pl.Float64, "step": pl.Int64, "dt": pl.Datetime("ns", "UTC")},
    )


def _assert_like_pandas(row: dict[str, object], values: list[float]) -> None:
    expected = pd.Series(values, dtype="float64").describe()
    for name in EXACT:
        assert row[name] == expected[name] or (np.isnan(expected[name]) and row[name] is None), name
    for name in ("mean", "std"):
        if np.isnan(expected[name]):
            assert row[name] is None or np.isnan(row[name]), name  # type: ignore[arg-type]
        else:
            # equal up to rounding at the data's scale (pandas' two-pass std leaves noise like 1e-136 for equal values)
            scale = max(abs(v) for v in values if not np.isnan(v))
            assert row[name] == pytest.approx(expected[name], rel=1e-12, abs=1e-12 * scale), name


def test_random_data_matches_pandas_exactly() -> None:
    rng = np.random.default_rng(7)
    parts = {
        "normal": rng.standard_normal(5001) * 1e3,
        "tiny": rng.exponential(1e-9, 3000),
        "mixed": np.concatenate([-rng.pareto(1.5, 2000), rng.pareto(1.5, 2000), np.zeros(50)]),
        "ties": rng.integers(0, 4, 4000).astype(float),
        "one": np.array([42.0]),
        "two": np.array([1.0, 2.0]),
        "nan": np.where(rng.random(1000) < 0.1, np.nan, rng.random(1000)),
    }
    keys = [k for k, v in parts.items() for _ in v]
    values = [float(x) for v in parts.values() for x in v]
    order = rng.permutation(len(values))
    out = describe(_frame([keys[i] for i in order], [values[i] for i in order]), ["event", "key"])
    assert out.columns == ["event", "key", *STAT_COLUMNS]
    assert out["key"].to_list() == sorted(parts)
    for row in out.iter_rows(named=True):
        _assert_like_pandas(row, [float(x) for x in parts[row["key"]]])


@settings(max_examples=40)
@given(st.lists(st.one_of(st.floats(min_value=-1e100, max_value=1e100), st.just(float("nan"))), min_size=1, max_size=60))
def test_any_values_match_pandas(values: list[float]) -> None:
    # (|x| <= 1e100: beyond, pandas' std overflows to inf where polars' does not)
    out = describe(_frame(["k"] * len(values), values), ["event", "key"])
    row = out.row(0, named=True)
    clean = [v for v in values if not np.isnan(v)]
    if not clean:
        assert row["count"] == 0.0 and row["50%"] is None
        return
    _assert_like_pandas(row, values)


def test_first_and_last_follow_step_then_dt_then_seq() -> None:
    # steps logged out of order (a resumed job): first is the lowest step, last the highest,
    # and among equal steps the latest dt; null steps come first
    frame = _frame(["k"] * 5, [5.0, 1.0, 7.0, 3.0, 9.0], steps=[2, None, 3, 3, 1])
    row = describe(frame, ["event", "key"]).row(0, named=True)
    assert (row["first"], row["last"]) == (1.0, 3.0)


def _archive(uri: str, write: Writer) -> None:
    rows: list[dict[str, object]] = []
    for run, seconds in ((1, 10), (2, 30), (3, 20)):
        start = T0 + run * 100 * S
        rows.append({"run": run, "event": "start", "key": "run", "value_json": "{}", "dt": start})
        for step in range(4):
            rows.append({"run": run, "step": step, "key": "loss", "value": float(run * 10 + step), "dt": start + (step + 1) * S})
            rows.append({"run": run, "step": step, "key": "acc", "value": step / 4, "dt": start + (step + 1) * S})
        rows.append({"run": run, "event": "stop", "key": "run", "value_json": '{"status": "completed"}', "dt": start + seconds * S})
    write(uri, rows)


def test_summary_per_key_with_latency(any_uri: str, write: Writer) -> None:
    _archive(any_uri, write)
    out = query.summary(any_uri, "exp")
    assert out.select("event", "key").rows() == [("metric", "acc"), ("metric", "loss"), ("metric", "latency")]
    loss = out.filter(pl.col("key") == "loss").row(0, named=True)
    _assert_like_pandas(loss, [float(r * 10 + s) for r in (1, 2, 3) for s in range(4)])
    assert (loss["first"], loss["last"]) == (10.0, 33.0)  # step 0 of run 1 .. step 3 of run 3 (latest dt)
    latency = out.filter(pl.col("key") == "latency").row(0, named=True)
    _assert_like_pandas(latency, [10.0, 30.0, 20.0])
    assert (latency["first"], latency["last"]) == (10.0, 20.0)


def test_summary_by_run_and_filters(local_uri: str, write: Writer) -> None:
    _archive(local_uri, write)
    out = query.summary(local_uri, "exp", by_run=True, key="loss")
    assert out.select("run", "key", "count", "mean", "min", "max").rows() == [
        (1, "loss", 4.0, 11.5, 10.0, 13.0),
        (2, "loss", 4.0, 21.5, 20.0, 23.0),
        (3, "loss", 4.0, 31.5, 30.0, 33.0),
    ]
    both = query.summary(local_uri, "exp", run=-1, by_run=True)
    assert both.select("run", "key").rows() == [(3, "acc"), (3, "loss"), (3, "latency")]
    assert query.summary(local_uri, "exp", latency=False)["key"].to_list() == ["acc", "loss"]
    assert query.summary(local_uri, "exp", step=[0, 1], key="loss")["count"].to_list() == [6.0]


def test_summary_of_nothing_is_empty(local_uri: str, write: Writer) -> None:
    out = query.summary(local_uri, "nothing")
    assert out.height == 0 and out.columns == ["event", "key", *STAT_COLUMNS]


@pytest.mark.parametrize("bits", [1, DEFAULT_BUCKET_BITS, 8, 20])
@pytest.mark.parametrize("few_groups", [True, False])
def test_every_bucket_width_and_fetch_path_give_the_same_numbers(
    bits: int, few_groups: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = importlib.import_module("query.describe")  # (the package's `describe` is the function)
    if not few_groups:
        monkeypatch.setattr(module, "_FEW_GROUPS", 0)  # the semi-join path used for many groups
    rng = np.random.default_rng(bits)
    keys = [f"k{i % 37}" for i in range(3000)]
    values = (rng.standard_normal(3000) * 10.0 ** rng.integers(-5, 5, 3000)).tolist()
    steps = rng.integers(0, 20, 3000).tolist()
    out = describe(_frame(keys, values, steps), ["event", "key"], bucket_bits=bits)
    for row in out.iter_rows(named=True):
        mine = [(s, i, v) for i, (k, v, s) in enumerate(zip(keys, values, steps, strict=True)) if k == row["key"]]
        _assert_like_pandas(row, [v for _, _, v in mine])
        ordered = sorted(mine)  # by step, then dt (= position)
        assert (row["first"], row["last"]) == (ordered[0][2], ordered[-1][2])


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["a", "b"]),
            st.one_of(st.none(), st.integers(-2, 2)),  # few steps: many ties, null steps too
            st.integers(0, 3),  # few times: ties on (step, dt), broken by seq
            st.floats(allow_nan=True, allow_infinity=False, width=32),
        ),
        min_size=1,
        max_size=40,
    ),
    few_groups=st.booleans(),
)
def test_first_and_last_match_a_sort_by_step_dt_seq(rows: list[tuple[str, int | None, int, float]], few_groups: bool) -> None:
    module = importlib.import_module("query.describe")
    original = module._FEW_GROUPS
    module._FEW_GROUPS = original if few_groups else 0  # both fetch paths (not a fixture: Hypothesis reruns)
    try:
        frame = pl.LazyFrame(
            {
                "event": ["metric"] * len(rows),
                "key": [r[0] for r in rows],
                "value": [r[3] for r in rows],
                "step": [r[1] for r in rows],
                "dt": [T0 + r[2] * S for r in rows],
                "seq": [len(rows) - i for i in range(len(rows))],  # not the scan order: seq must decide
            },
            schema_overrides={"value": pl.Float64, "step": pl.Int64, "dt": pl.Datetime("ns", "UTC")},
        )
        out = describe(frame, ["event", "key"])
    finally:
        module._FEW_GROUPS = original
    for row in out.iter_rows(named=True):
        # (step with nulls first, dt, seq): the reference order
        mine = sorted(
            ((r[1] is not None, r[1] or 0, r[2], len(rows) - i), r[3]) for i, r in enumerate(rows) if r[0] == row["key"]
        )
        first, last = mine[0][1], mine[-1][1]
        assert row["first"] == first or (np.isnan(first) and np.isnan(row["first"]))
        assert row["last"] == last or (np.isnan(last) and np.isnan(row["last"]))


def test_identical_events_all_count() -> None:
    # the same value at the same step and time twice (two writers): both count, in every statistic
    frame = _frame(["k"] * 4, [1.0, 2.0, 2.0, 3.0], steps=[0, 1, 1, 2]).with_columns(pl.lit(0, dtype=pl.Int64).alias("seq"))
    frame = frame.with_columns(pl.when(pl.col("step") == 1).then(pl.lit(T0)).otherwise(pl.col("dt")).alias("dt"))
    row = describe(frame, ["event", "key"]).row(0, named=True)
    _assert_like_pandas(row, [1.0, 2.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="bucket_bits"):
        describe(frame, ["event", "key"], bucket_bits=30)


def test_order_key_times_gives_back_dt() -> None:
    dts = [_dt.datetime(1969, 12, 31, 23, 59, tzinfo=_dt.UTC), T0, T0 + S]
    frame = pl.DataFrame({"step": [None, -3, 2**40], "dt": dts}, schema={"step": pl.Int64, "dt": pl.Datetime("ns", "UTC")})
    keys = frame.select(order_key().alias("k"))["k"]
    assert keys.arg_sort().to_list() == [0, 1, 2]  # null step first, then by step
    assert order_key_times(pl.concat([keys, pl.Series([None], dtype=keys.dtype)])).to_list() == frame["dt"].dt.epoch("ns").to_list()


def test_counts_are_integers(local_uri: str, write: Writer) -> None:
    # Regression (issue 14): count came back as a Float64 (2000.0); a count is a whole number.
    _archive(local_uri, write)
    out = query.summary(local_uri, "exp", by_run=True)
    assert out.schema["count"] == pl.Int64
    assert out.filter(pl.col("key") == "loss")["count"].to_list() == [4, 4, 4]
    assert describe(_frame(["k"], [float("nan")]), ["event", "key"]).schema["count"] == pl.Int64


def test_the_latency_row_honours_the_other_filters(local_uri: str, write: Writer) -> None:
    # Regression (issue 14): with runs tagged a and b, summary(tag="a") timed both runs, and
    # summary(tag="nomatch") still had a latency row.
    rows: list[dict[str, object]] = []
    for run, seconds, tag in ((1, 10, "a"), (2, 30, "b")):
        start = T0 + run * 100 * S
        rows.append({"run": run, "event": "start", "key": "run", "value_json": "{}", "dt": start})
        rows.append({"run": run, "step": 0, "key": "loss", "value": float(run), "dt": start + S, "extra": {"tag": tag}})
        stop = {"run": run, "event": "stop", "key": "run", "value_json": '{"status": "completed"}', "dt": start + seconds * S}
        rows.append({**stop, "extra": {"tag": tag}})
    write(local_uri, rows)
    tagged = query.summary(local_uri, "exp", tag="a")
    assert tagged.select("key", "count", "mean").rows() == [("loss", 1, 1.0), ("latency", 1, 10.0)]
    assert query.summary(local_uri, "exp", tag="nomatch").height == 0
    assert query.summary(local_uri, "exp").filter(pl.col("key") == "latency")["count"].to_list() == [2]
