"""Downsampling a curve for a chart of a given width, keeping its extremes.

A chart `width` pixels wide cannot show more than a few points per pixel column, so sending a
1M-step curve whole wastes the wire and the browser. Sampling every n-th point (TensorBoard's
reservoir keeps 1,000 points per tag) hides spikes. Here the x range is cut into one bucket per
pixel, and of each bucket the points holding its minimum and its maximum are kept, in x order
(`minmax`, about 2 points per pixel); `m4` also keeps each bucket's first and last point (up to 4
per pixel, which rasterises exactly like the full line: Jugel et al., "M4", VLDB 2014). Either
way a one-step spike, and the global minimum and maximum, survive whatever the width.

Everything is vectorised with numpy and linear in the number of points: the x values must be
sorted (as a curve is, by step or by time), so that buckets are contiguous runs of indices.
Non-finite values (NaN, ±inf) take no part in the extremes; they are left out and counted.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["DownsampleMode", "downsample", "downsample_indices"]

#: `minmax`: the minimum and maximum of each pixel bucket (~2 points per pixel); `m4`: also its
#: first and last point (up to 4 per pixel).
DownsampleMode = Literal["minmax", "m4"]


def _segment_arg(values: npt.NDArray[np.float64], starts: npt.NDArray[np.intp], pick: Literal["min", "max"]) -> npt.NDArray[np.intp]:
    """The index of the first minimum (or maximum) of each contiguous segment starting at `starts`."""
    reduce = np.minimum if pick == "min" else np.maximum
    extreme = reduce.reduceat(values, starts)
    lengths = np.diff(np.append(starts, len(values)))
    hit = values == np.repeat(extreme, lengths)
    positions = np.where(hit, np.arange(len(values)), len(values))
    found: npt.NDArray[np.intp] = np.minimum.reduceat(positions, starts)
    return found


def downsample_indices(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    width: int,
    *,
    x_range: tuple[float, float] | None = None,
    mode: DownsampleMode = "minmax",
) -> npt.NDArray[np.intp]:
    """The indices of the points of the curve (x, y) to draw at `width` pixels, ascending.

    Args:
        x: the x values, sorted ascending (steps or times).
        y: the y values, one per x; non-finite ones are never kept.
        width: the chart's width in pixels (one bucket per pixel); at least 1.
        x_range: the (low, high) x range the chart shows (default: the data's); points outside
            it are left out, so a zoomed chart gets full detail of its part.
        mode: `minmax` or `m4` (see `DownsampleMode`).

    Returns:
        Indices into x and y. A curve with no more finite points than 2 per pixel (4 with `m4`)
        comes back whole.

    Raises:
        ValueError: `width` is below 1, x and y differ in length, or `mode` is unknown.

    Example:
        >>> downsample_indices([0, 1, 2, 3, 4, 5], [0, 9, 1, 1, -3, 2], 2).tolist()
        [0, 1, 4, 5]
    """
    if width < 1:
        raise ValueError(f"width must be at least 1 pixel, got {width}")
    if mode not in ("minmax", "m4"):
        raise ValueError(f"unknown downsampling mode {mode!r}; use 'minmax' or 'm4'")
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    if xs.shape != ys.shape:
        raise ValueError(f"x and y differ in length ({xs.size} and {ys.size})")
    keep = np.isfinite(ys) & np.isfinite(xs)
    if x_range is not None:
        keep &= (xs >= x_range[0]) & (xs <= x_range[1])
    index = np.flatnonzero(keep)
    per_pixel = 2 if mode == "minmax" else 4
    if index.size <= per_pixel * width:
        return index
    xs, ys = xs[index], ys[index]
    low, high = (float(xs[0]), float(xs[-1])) if x_range is None else x_range
    span = high - low
    if span <= 0:  # every point at one x: a vertical line from its minimum to its maximum
        return np.unique(index[[0, int(np.argmin(ys)), int(np.argmax(ys)), len(ys) - 1]])
    bucket = np.clip(((xs - low) / span * width).astype(np.int64), 0, width - 1)
    # x is sorted, so each bucket is a contiguous run: its start is where the bucket number changes
    starts = np.flatnonzero(np.diff(bucket, prepend=-1))
    picked = [_segment_arg(ys, starts, "min"), _segment_arg(ys, starts, "max")]
    if mode == "m4":
        picked += [starts, np.append(starts[1:], len(ys)) - 1]
    else:  # the ends of the curve, so that it starts and stops where the data does
        picked.append(np.array([0, len(ys) - 1]))
    kept: npt.NDArray[np.intp] = index[np.unique(np.concatenate(picked))]
    return kept


def downsample(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    width: int,
    *,
    x_range: tuple[float, float] | None = None,
    mode: DownsampleMode = "minmax",
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The points of the curve (x, y) to draw at `width` pixels (see `downsample_indices`).

    Args:
        x: the x values, sorted ascending.
        y: the y values.
        width: the chart's width in pixels.
        x_range: the x range shown (default: the data's).
        mode: `minmax` or `m4`.

    Returns:
        The kept (x, y) as float arrays, in x order.

    Raises:
        ValueError: as `downsample_indices`.
    """
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    kept = downsample_indices(xs, ys, width, x_range=x_range, mode=mode)
    return xs[kept], ys[kept]
