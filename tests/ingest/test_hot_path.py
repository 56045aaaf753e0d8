"""The fast path and its neighbours: every call lands exactly once and whole, from any thread."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import given, settings

import eventlog
import query


def test_steps_none_and_int_go_through_the_columns(local_uri: str) -> None:
    log = eventlog.open(local_uri)
    exp = log.experiment("hot")
    with exp:
        for i in range(100):
            exp.log_metric("a", float(i), step=i if i % 2 else None)
    frame = exp.data(event="metric")
    assert frame["value"].to_list() == [float(i) for i in range(100)]
    assert frame["step"].to_list() == [i if i % 2 else None for i in range(100)]
    log.close()


def test_step_out_of_int64_range_never_fails_its_batch(local_uri: str) -> None:
    """Regression: one step >= 2**63 made the whole drain fail; now its step is null and all events land."""
    log = eventlog.open(local_uri)
    exp = log.experiment("range")
    with exp:
        exp.log_metric("a", 1.0, step=1)
        exp.log_metric("a", 2.0, step=2**64)  # the hot path does not range-check (it costs every call)
        exp.log_metric("a", 3.0, step=3)
        with pytest.raises(ValueError, match="out of range"):
            exp.log_event("metric", "b", 1.0, step=2**64)  # the validating path says so
    assert exp.data(event="metric").sort("value").select("step", "value").rows() == [(1, 1.0), (None, 2.0), (3, 3.0)]
    log.close()


def test_other_threads_log_through_the_slow_path_without_mixing_rows(local_uri: str) -> None:
    log = eventlog.open(local_uri, max_events=500)  # many drains while the threads append
    exp = log.experiment("threads")
    exp.start()

    def work(offset: int) -> None:
        for i in range(2000):
            exp.log_metric(f"t{offset}", float(offset * 10_000 + i), step=i)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    work(9)  # the owner thread logs at the same time
    for t in threads:
        t.join()
    exp.stop()
    frame = exp.data(event="metric")
    assert frame.height == 5 * 2000
    for offset in (0, 1, 2, 3, 9):
        rows = frame.filter(frame["key"] == f"t{offset}").sort("step")
        assert rows["value"].to_list() == [float(offset * 10_000 + i) for i in range(2000)]  # value matches its key and step
    log.close()


COMPILED_AND_NOT = pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "closure"])


def test_the_compiled_fast_path_is_built_and_used(local_uri: str) -> None:
    """`make test` installs with a C compiler: a build that silently fell back would fail here."""
    from ingest import hot_path

    assert hot_path.COMPILED
    with eventlog.open(local_uri) as log, log.experiment("compiled") as exp:
        assert type(exp.log_metric).__name__ == "MetricLogger"
        assert exp.log_metric.__wrapped__.__name__ == "log_metric"  # type: ignore[attr-defined]


@COMPILED_AND_NOT
def test_ints_and_numpy_scalars_take_the_fast_path_as_floats(compiled: bool) -> None:
    """The fast path alone: a `slow` that raises proves which calls stay on it."""
    import numpy as np

    from ingest.hot_path import make_log_metric

    rows: list[object] = []

    def slow(*call: object) -> None:
        raise AssertionError(f"slow path taken for {call[:2]}")

    log_metric = make_log_metric(rows, {"k": 7}, threshold=1_000, slow=slow, full=lambda: True, compiled=compiled)
    values = [0.5, 3, np.float64(1.25), np.float32(0.75), np.int64(-4), np.uint8(200), np.float16(2.5)]
    for step, value in enumerate(values):
        log_metric("k", value, step=step)
    assert rows[1::4] == [0.5, 3.0, 1.25, 0.75, -4.0, 200.0, 2.5]
    assert all(type(v) is float for v in rows[1::4])
    assert rows[0::4] == [7] * len(values) and rows[2::4] == list(range(len(values)))

    slowed: list[object] = []
    log_metric = make_log_metric(
        rows, {"k": 7}, threshold=1_000, slow=lambda *call: slowed.append(call[1]), full=lambda: True, compiled=compiled
    )
    for value in (True, 10**400, "0.5", np.array([1.0, 2.0])):  # bool, too large, not a number, not a scalar
        log_metric("k", value)
    assert slowed[:3] == [True, 10**400, "0.5"] and len(slowed) == 4


def _both_paths(threshold: int = 1_000) -> tuple[list[object], list[object], list[object], list[object], object, object]:
    """The compiled fast path and the closure over equal tables, each with its own rows and slow calls."""
    from ingest.hot_path import make_log_metric

    made = []
    for compiled in (True, False):
        rows: list[object] = []
        slowed: list[object] = []
        fn = make_log_metric(
            rows, {"k": 7, "j": 8}, threshold=threshold, slow=lambda *call, s=slowed: s.append(call), full=lambda: True,
            compiled=compiled,
        )
        made.append((rows, slowed, fn))
    (rows_c, slow_c, fast), (rows_p, slow_p, closure) = made
    return rows_c, slow_c, rows_p, slow_p, fast, closure


def test_the_compiled_path_and_the_closure_agree_on_every_kind_of_call() -> None:
    """Each call through both: the same rows (but the clock) and the same calls handed to `slow`."""
    import numpy as np

    rows_c, slow_c, rows_p, slow_p, fast, closure = _both_paths()
    calls: list[tuple[tuple[object, ...], dict[str, object]]] = [
        (("k", 0.5), {}), (("k", 0.5, 3), {}), (("k", 0.5), {"step": 4}), (("j", 2), {"step": None}),
        (("k", -(2**70)), {}), (("k", 10**400), {}), (("k", True), {}), (("k", np.float32(0.25)), {"step": 1}),
        (("k", 1.0, 2.5), {}), (("k", 1.0, True), {}), (("k", 1.0, np.int64(3)), {}), (("k", 1.0), {"dt": 5}),
        (("k", 1.0, 1, 5), {}), (("k", 1.0), {"phase": "val"}), (("k", 1.0), {"step": 1, "phase": "val"}),
        (("new", 1.0), {}), ((b"k", 1.0), {}), ((["k"], 1.0), {}), (("k", "x"), {}), (("k", float("nan"), 2**63), {}),
    ]
    for args, kwargs in calls:
        fast(*args, **kwargs)  # type: ignore[operator]
        closure(*args, **kwargs)  # type: ignore[operator]
    without_clock = [row for i, row in enumerate(rows_c) if i % 4 != 3]
    assert len(rows_c) == len(rows_p) and len(rows_c) > 0
    assert str(without_clock) == str([row for i, row in enumerate(rows_p) if i % 4 != 3])  # str: NaN != NaN
    assert [type(v) for v in rows_c] == [type(v) for v in rows_p]
    assert str(slow_c) == str(slow_p) and len(slow_c) >= 8


def test_the_compiled_path_leaves_a_full_buffer_to_the_closure() -> None:
    rows_c, _slow_c, _rows_p, _slow_p, fast, _closure = _both_paths(threshold=2)
    for step in range(5):
        fast("k", 1.0, step)  # type: ignore[operator]
    assert len(rows_c) == 5 * 4  # full() said there is room: every event kept, through the closure
    assert rows_c[2::4] == list(range(5))
    with pytest.raises(TypeError):
        fast()  # type: ignore[operator]  # the closure's own error for a bad call
    with pytest.raises(TypeError):
        fast("k")  # type: ignore[operator]


def test_every_numeric_type_reads_back_exactly(local_uri: str) -> None:
    import numpy as np

    log = eventlog.open(local_uri)
    exp = log.experiment("types")
    exp.start()
    values = [0.5, 3, np.float64(1.25), np.float32(0.75), np.int64(-4), np.uint16(65535), 2**53]
    for step, value in enumerate(values):
        exp.log_metric("v", value, step=step)
    with pytest.raises(TypeError, match="too large for a float64"):
        exp.log_metric("v", 10**400, step=99)
    log.close()
    frame = query.data(local_uri, experiment="types", key="v").sort("step")
    assert frame["step"].to_list() == list(range(len(values)))
    assert frame["value"].to_list() == [0.5, 3.0, 1.25, 0.75, -4.0, 65535.0, float(2**53)]


def _call_values() -> Any:
    import numpy as np
    from hypothesis import strategies as st

    numbers = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(min_value=-(2**1100), max_value=2**1100),
        st.booleans(),
        st.floats(width=32).map(np.float32),
        st.integers(min_value=-(2**63), max_value=2**63 - 1).map(np.int64),
        st.integers(min_value=0, max_value=255).map(np.uint8),
        st.text(max_size=3),
        st.none(),
    )
    steps = st.one_of(st.none(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(), st.booleans(), st.just("3"))
    keys = st.one_of(st.sampled_from(["k", "j", "new", ""]), st.binary(max_size=2), st.integers())
    extras = st.dictionaries(st.sampled_from(["step", "dt", "phase"]), st.one_of(st.integers(0, 9), st.text(max_size=2)), max_size=2)
    return st.lists(st.tuples(keys, numbers, steps, st.integers(0, 2), extras), max_size=30)


@settings(max_examples=300, deadline=None)
@given(calls=_call_values())
def test_any_calls_through_the_compiled_path_and_the_closure_agree(calls: list[Any]) -> None:
    """Random keys, values, steps and keywords: both paths append the same rows (but the clock),
    hand the same calls to `slow`, and raise the same errors."""
    rows_c, slow_c, rows_p, slow_p, fast, closure = _both_paths(threshold=8)
    for key, value, step, how, extra in calls:
        args: tuple[Any, ...] = (key, value) if how == 0 else (key, value, step)
        kwargs = dict(extra) if how != 1 else {}
        if how == 2:
            kwargs.pop("step", None)
            args = (key, value)
            kwargs["step"] = step
        outcomes = []
        for fn in (fast, closure):
            try:
                fn(*args, **kwargs)  # type: ignore[operator]
                outcomes.append(None)
            except Exception as exc:  # the same error from both, or none
                outcomes.append((type(exc), str(exc)))
        assert outcomes[0] == outcomes[1]
    assert str([r for i, r in enumerate(rows_c) if i % 4 != 3]) == str([r for i, r in enumerate(rows_p) if i % 4 != 3])
    assert [type(v) for v in rows_c] == [type(v) for v in rows_p]
    assert str(slow_c) == str(slow_p)
