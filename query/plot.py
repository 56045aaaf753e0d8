"""Plots: a metric against step, one line per run (omega-ml's metric plots across runs).

Figures are built with matplotlib's object API on the Agg canvas (no pyplot, no display needed),
so they work the same in a script, a notebook, a server and the CLI.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from eventlog.core.store import Store
from eventlog.errors import NothingToPlotError
from query.data import data
from query.filters import Filter

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["NothingToPlotError", "metric_frame", "plot_metric", "save_plot", "smooth_values"]

#: File types `save_plot` writes (anything else matplotlib knows also works, e.g. `.pdf`).
HTML_SUFFIXES = (".html", ".htm")


def metric_frame(store: Store | str | None, experiment: str, key: Filter, run: Filter = "*", **filters: Filter) -> pl.DataFrame:
    """The metric events to plot: columns `run, key, step, value`, ordered by run, key, step, dt.

    A missing step is replaced by the event's position within its run and key (0, 1, 2, ...).

    Raises:
        NothingToPlotError: no metric event matches.
    """
    frame = data(store, experiment, run=run, event="metric", key=key, lazy=False, **filters)
    assert isinstance(frame, pl.DataFrame)  # lazy=False: for the type checker
    if frame.height == 0:
        raise NothingToPlotError(
            f"no metric {key!r} in experiment {experiment!r} for run={run!r}; "
            "list the metrics with `eventlog summary EXPERIMENT` (or exp.summary())"
        )
    frame = frame.select("run", "key", "step", "dt", "value").with_columns(
        pl.int_range(pl.len()).over("run", "key", order_by="dt").alias("_position")
    )
    return (
        frame.with_columns(pl.col("step").fill_null(pl.col("_position")))
        .sort(["run", "key", "step", "dt"])
        .select("run", "key", "step", "value")
    )


def smooth_values(values: list[float], weight: float) -> list[float]:
    """TensorBoard's smoothing: an exponential moving average with debiasing (weight 0 = unchanged).

    Raises:
        ValueError: `weight` is not in [0, 1).
    """
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smooth must be in [0, 1), got {weight!r} (0.6 is mild, 0.95 strong)")
    out: list[float] = []
    last = 0.0
    for i, value in enumerate(values, start=1):
        last = last * weight + (1 - weight) * value
        out.append(last / (1 - weight**i))
    return out


def plot_metric(
    store: Store | str | None,
    experiment: str,
    key: Filter,
    run: Filter = "*",
    *,
    title: str | None = None,
    smooth: float = 0.0,
    **filters: Filter,
) -> Figure:
    """A matplotlib figure of metric `key` against step, one line per run (one panel per key).

    Args:
        store: a Store or URI (None: $EVENTLOG_URI, else ./.eventlog).
        experiment: the experiment name.
        key: a metric name, a list, or a wildcard pattern (`"train/*"`): each key gets a panel.
        run: which runs (default all): a number, a list, `"*"`, or a negative number (-1 = latest).
        title: the figure's title (default `<experiment>: <key>`).
        smooth: TensorBoard-style smoothing weight in [0, 1): 0 plots the raw values; above 0 the
            smoothed curve is drawn over the raw one (faint).
        **filters: further filters, as for `query.data` (e.g. `since="2d"`, `tag="v1.5"`).

    Returns:
        A `matplotlib.figure.Figure` (save it with `fig.savefig("loss.png")` or `save_plot`).

    Raises:
        NothingToPlotError: no metric event matches.

    Example:
        >>> fig = plot_metric("./.eventlog", "mnist", "loss")  # doctest: +SKIP
        >>> fig.savefig("loss.png")  # doctest: +SKIP
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if smooth:
        smooth_values([], smooth)  # validate before any I/O
    frame = metric_frame(store, experiment, key, run, **filters)
    present = set(frame["key"].unique().to_list())
    asked = key if isinstance(key, list | tuple) else []
    keys = [k for k in asked if k in present] + sorted(present - set(asked))  # panels in the order asked
    fig = Figure(figsize=(8, 3.2 * len(keys) + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(keys), 1, squeeze=False)[:, 0]
    for ax, name in zip(axes, keys, strict=True):
        part = frame.filter(pl.col("key") == name)
        runs = part["run"].unique(maintain_order=True).to_list()
        for number in runs:
            line = part.filter(pl.col("run") == number)
            steps, values = line["step"].to_list(), line["value"].to_list()
            marker = "o" if line.height <= 30 else None
            if smooth:
                (raw,) = ax.plot(steps, values, alpha=0.25, linewidth=0.8)
                ax.plot(steps, smooth_values(values, smooth), color=raw.get_color(), label=f"run {number}")
            else:
                ax.plot(steps, values, label=f"run {number}", marker=marker, markersize=3)
        ax.set_ylabel(name)
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
        if len(runs) <= 20:
            ax.legend(loc="best", fontsize="small")
    fig.suptitle(title or f"{experiment}: {_label(key)}")
    return fig


def save_plot(fig: Figure, path: str | Path, *, dpi: int = 110) -> Path:
    """Save a figure as PNG (or SVG, PDF, ...: by suffix) or as a self-contained HTML page.

    Args:
        fig: the figure.
        path: the output file; `.html` embeds the figure as inline SVG.
        dpi: resolution of raster formats.

    Returns:
        The path written.

    Raises:
        ValueError: matplotlib does not know the suffix.
    """
    out = Path(path)
    if out.suffix.lower() in HTML_SUFFIXES:
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg")
        title = fig.get_suptitle() if hasattr(fig, "get_suptitle") else "eventlog plot"
        out.write_text(
            f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{_escape(title)}</title></head>\n"
            f"<body>\n{buffer.getvalue()}\n</body></html>\n",
            encoding="utf-8",
        )
        return out
    fig.savefig(out, dpi=dpi)
    return out


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _label(key: Filter) -> str:
    """The figure title's text for a key filter: the key, or the keys joined by commas."""
    return ", ".join(map(str, key)) if isinstance(key, list | tuple | set | frozenset) else str(key)
