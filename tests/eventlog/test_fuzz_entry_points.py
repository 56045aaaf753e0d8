"""Issue 13: arbitrary values, times and strings at every `log_*` entry point.

Every call either raises at the call (TypeError/ValueError) and logs nothing, or is accepted; at
the end the writer still flushes, and every accepted event is read back: no poison value reaches
the flusher. Each example logs into a run of its own, so the counts per run say exactly what was
accepted.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eventlog
from eventlog.core.values import to_number

TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=12)  # surrogates too
NAMES = st.one_of(TEXT, st.sampled_from(["loss", "train/acc", "run", "key", "extra", "x" * 2000]))
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-(10**400), max_value=10**400), st.booleans()
)
JSONISH = st.recursive(st.one_of(st.none(), NUMBERS, TEXT), lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=6)
VALUES = st.one_of(NUMBERS, JSONISH, st.builds(object), st.binary(max_size=4))
TIMES = st.one_of(
    st.none(),
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31), timezones=st.none() | st.just(dt.UTC)),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
)
STEPS = st.one_of(st.none(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(), st.text(max_size=2))
EXTRAS = st.dictionaries(st.sampled_from(["tag", "run", "source", "x\x00", "caf\udce9", "key"]), st.one_of(TEXT, st.integers()), max_size=3)

CALLS = st.one_of(
    st.tuples(st.just("log_metric"), NAMES, VALUES, STEPS, TIMES, EXTRAS),
    st.tuples(st.just("log_metrics"), st.dictionaries(st.sampled_from(["a", "b", "c/d"]), VALUES, min_size=1, max_size=3), STEPS, TIMES),
    st.tuples(st.just("log_param"), NAMES, VALUES, EXTRAS),
    st.tuples(st.just("log_event"), NAMES, NAMES, VALUES, STEPS, TIMES, EXTRAS),
    st.tuples(st.just("set_tags"), st.dictionaries(NAMES, VALUES, max_size=2)),
    st.tuples(st.just("log_extra"), EXTRAS),
)


def _convertible(value: Any) -> bool:
    try:
        to_number(value, key="k")
    except TypeError:
        return False
    return True


def _call(exp: eventlog.Experiment, call: tuple[Any, ...]) -> int:
    """Make the call; return how many events it logged (0 when it raised)."""
    name, *args = call
    if name == "log_metric":
        key, value, step, when, extras = args
        exp.log_metric(key, value, step, when, **extras)
        return 1
    if name == "log_metrics":
        mapping, step, when = args
        try:
            exp.log_metrics(mapping, step=step, dt=when)
        except TypeError:
            # documented: the valid values of a mapping with a bad value are kept, if step and dt are good
            return sum(_convertible(v) for v in mapping.values()) if _metrics_context_ok(step, when) else 0
        return len(mapping)
    if name == "log_param":
        key, value, extras = args
        exp.log_param(key, value, **extras)
        return 1
    if name == "log_event":
        kind, key, value, step, when, extras = args
        exp.log_event(kind, key, value, step, when, **extras)
        return 1
    if name == "set_tags":
        (mapping,) = args
        logged = 0
        try:
            for key, value in mapping.items():  # tags are logged one by one: the ones before a bad one stay
                exp.set_tags({key: value})
                logged += 1
        except (TypeError, ValueError):
            pass
        return logged
    (extras,) = args
    exp.log_extra(**extras)
    return 0


def _metrics_context_ok(step: Any, when: Any) -> bool:
    from eventlog.core.values import to_dt_ns, to_step

    try:
        to_step(step)
        to_dt_ns(when)
    except (TypeError, ValueError):
        return False
    return True


def test_every_call_is_refused_at_the_call_or_read_back(tmp_path_factory: pytest.TempPathFactory) -> None:
    expected: dict[int, int] = {}
    with eventlog.open(str(tmp_path_factory.mktemp("fuzz") / "store"), flush_every=60) as log:
        exp = log.experiment("fuzz")

        @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(call=CALLS)
        def one_call(call: tuple[Any, ...]) -> None:
            run = exp.start()
            try:
                expected[run] = _call(exp, call)
            except (TypeError, ValueError):
                expected[run] = 0
            exp.stop()

        one_call()
        log.flush()  # raises if any accepted value wedged the flusher
        frame = exp.data(run="*", event="*").filter(~pl.col("event").is_in(["start", "stop", "system"]))
    assert len(expected) >= 300
    counts = dict(frame.group_by("run").len().iter_rows())
    assert {run: counts.get(run, 0) for run in expected} == expected
    # the strategies do reach the store, not only the errors (one random draw of 300 stored only 20)
    assert sum(expected.values()) > 5
