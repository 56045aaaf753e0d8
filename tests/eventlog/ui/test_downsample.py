"""Downsampling for charts keeps every extreme: spikes of one step, the global min and max, the ends."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventlog.ui.downsample import downsample, downsample_indices


def test_a_short_curve_comes_back_whole() -> None:
    assert downsample_indices([0, 1, 2], [3.0, 1.0, 2.0], 10).tolist() == [0, 1, 2]


def test_a_million_points_become_about_two_per_pixel_and_a_one_step_spike_survives() -> None:
    steps = np.arange(1_000_000)
    values = np.sin(steps / 5000.0)
    values[123_457] = 50.0  # one step of divergence
    values[876_543] = -50.0
    x, y = downsample(steps, values, 1000)
    assert len(x) <= 2 * 1000 + 2
    assert 50.0 in y and -50.0 in y
    assert x[np.argmax(y)] == 123_457 and x[np.argmin(y)] == 876_543
    assert x[0] == 0 and x[-1] == 999_999
    assert np.all(np.diff(x) > 0)


def test_m4_keeps_the_first_and_last_point_of_every_pixel_too() -> None:
    steps = np.arange(10_000)
    values = np.random.default_rng(1).normal(size=10_000)
    kept = downsample_indices(steps, values, 100, mode="m4")
    assert len(kept) <= 4 * 100
    buckets = np.minimum(steps * 100 // 9999, 99)
    for b in (0, 37, 99):
        members = np.flatnonzero(buckets == b)
        assert {members[0], members[-1], members[np.argmin(values[members])], members[np.argmax(values[members])]} <= set(kept)


def test_non_finite_values_are_left_out() -> None:
    values = np.array([1.0, np.nan, np.inf, -np.inf, 2.0] * 100)
    _x, y = downsample(np.arange(500), values, 10)
    assert np.all(np.isfinite(y)) and set(y) == {1.0, 2.0}


def test_a_range_gives_full_detail_of_the_zoomed_part() -> None:
    steps = np.arange(100_000)
    values = np.cos(steps / 10.0)
    kept = downsample_indices(steps, values, 1000, x_range=(500, 1500))
    assert kept.min() >= 500 and kept.max() <= 1500
    assert len(kept) == 1001  # 1,001 points fit in 2 per pixel: all of them


def test_every_point_at_one_x_keeps_its_extremes() -> None:
    _x, y = downsample(np.zeros(100), np.arange(100.0), 1)
    assert y.min() == 0 and y.max() == 99


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="width"):
        downsample_indices([1], [1], 0)
    with pytest.raises(ValueError, match="differ"):
        downsample_indices([1, 2], [1], 5)
    with pytest.raises(ValueError, match="mode"):
        downsample_indices([1], [1], 5, mode="lttb")  # type: ignore[arg-type]


@given(
    values=st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=1, max_size=400),
    width=st.integers(1, 50),
    mode=st.sampled_from(["minmax", "m4"]),
)
def test_any_curve_keeps_its_global_min_and_max_within_the_budget(values: list[float], width: int, mode: str) -> None:
    y = np.array(values)
    kept = downsample_indices(np.arange(len(y)), y, width, mode=mode)  # type: ignore[arg-type]
    assert y[kept].min() == y.min() and y[kept].max() == y.max()
    assert len(kept) <= (2 if mode == "minmax" else 4) * width + 2
    assert np.all(np.diff(kept) > 0)
