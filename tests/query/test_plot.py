"""`exp.plot(key)` / `query.plot.plot_metric`: real figures, saved as PNG/HTML, checked pixel by pixel."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

import eventlog
from query.plot import NothingToPlotError, plot_metric, save_plot, smooth_values

RUN_COLOURS = [(0x1F, 0x77, 0xB4), (0xFF, 0x7F, 0x0E), (0x2C, 0xA0, 0x2C)]  # matplotlib's C0, C1, C2


def _fill(uri: str, runs: int = 3, steps: int = 40) -> eventlog.Experiment:
    log = eventlog.open(uri, flush_every=60)
    exp = log.experiment("curves")
    for r in range(runs):
        with exp:
            for step in range(steps):
                exp.log_metrics({"loss": math.exp(-step / (5 + 5 * r)), "acc": 1 - math.exp(-step / (5 + 5 * r))}, step=step)
    return exp


def _pixels_of(image: np.ndarray, colour: tuple[int, int, int]) -> int:
    rgb = (image[..., :3] * 255).round().astype(int)
    return int(np.all(np.abs(rgb - np.array(colour)) <= 8, axis=-1).sum())


def test_plot_has_one_line_per_run_and_saves_a_real_png(any_uri: str, tmp_path: Path) -> None:
    exp = _fill(any_uri)
    fig = exp.plot("loss")
    (ax,) = fig.axes
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["run 1", "run 2", "run 3"]
    assert list(lines[0].get_xdata()) == list(range(40))
    assert lines[2].get_ydata()[-1] == pytest.approx(math.exp(-39 / 15))
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "loss"
    out = save_plot(fig, tmp_path / "loss.png")
    assert out.stat().st_size > 10_000
    image = imread(out)
    assert image.shape[0] > 300 and image.shape[1] > 600
    non_white = np.any(image[..., :3] < 0.95, axis=-1).mean()
    assert 0.01 < non_white < 0.5  # drawn on, not blank, not a solid fill
    for colour in RUN_COLOURS:
        assert _pixels_of(image, colour) > 200, colour  # each run's line is visible


def test_a_pattern_gives_one_panel_per_key_and_runs_can_be_chosen(local_uri: str) -> None:
    exp = _fill(local_uri)
    fig = plot_metric(exp._log.store, "curves", ["loss", "acc"], run=[1, 3])
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "acc"]  # panels in the order asked
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["run 1", "run 3"]
    latest = exp.plot("*", run=-1)
    assert len(latest.axes) == 2 and all(len(ax.get_lines()) == 1 for ax in latest.axes)


def test_metrics_without_steps_are_plotted_in_logging_order(local_uri: str) -> None:
    log = eventlog.open(local_uri, flush_every=60)
    exp = log.experiment("nostep")
    with exp:
        for value in (3.0, 2.0, 1.0):
            exp.log_metric("loss", value)
    (line,) = exp.plot("loss").axes[0].get_lines()
    assert list(line.get_xdata()) == [0, 1, 2] and list(line.get_ydata()) == [3.0, 2.0, 1.0]


def test_html_output_is_a_page_with_the_figure(local_uri: str, tmp_path: Path) -> None:
    exp = _fill(local_uri, runs=1, steps=5)
    out = save_plot(exp.plot("acc"), tmp_path / "acc.html")
    text = out.read_text()
    assert text.startswith("<!doctype html>") and "<svg" in text and "curves: acc" in text


def test_nothing_to_plot_says_what_to_do(local_uri: str) -> None:
    exp = _fill(local_uri, runs=1, steps=2)
    with pytest.raises(NothingToPlotError, match=r"no metric 'nope'.*summary"):
        exp.plot("nope")
    assert isinstance(NothingToPlotError("x"), LookupError)


def test_smoothing_is_tensorboards_debiased_moving_average(local_uri: str) -> None:
    assert smooth_values([2.0, 2.0, 2.0], 0.9) == pytest.approx([2.0, 2.0, 2.0])  # debiased: no ramp from 0
    assert smooth_values([0.0, 1.0], 0.5) == pytest.approx([0.0, 0.5 / 0.75])
    assert smooth_values([1.0, 5.0], 0.0) == [1.0, 5.0]
    with pytest.raises(ValueError, match="smooth must be in"):
        smooth_values([1.0], 1.0)
    exp = _fill(local_uri, runs=2, steps=20)
    (ax,) = exp.plot("loss", smooth=0.8).axes
    lines = ax.get_lines()
    assert len(lines) == 4  # a faint raw line and a smoothed line per run
    raw, smoothed = lines[0], lines[1]
    assert raw.get_alpha() == 0.25 and raw.get_color() == smoothed.get_color() and smoothed.get_label() == "run 1"
    assert list(smoothed.get_ydata()) == pytest.approx(smooth_values(list(raw.get_ydata()), 0.8))
