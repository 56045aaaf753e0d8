"""`EventFrame`: the polars DataFrame that `data()` returns, whose `plot` can also be called.

omega-ml users plot with pandas' call, `exp.data(event="metric", key="acc", run="*").plot(x="run",
y="value")`; a polars DataFrame's `plot` is a namespace (`.line(...)`, `.point(...)`, drawn with
altair) that cannot be called. `EventFrame.plot` is both: called, it draws `kind` (a line by
default) with the same altair charts; every polars plot method still works. Everything else is
polars' own: operations on an `EventFrame` return plain polars DataFrames.
"""

from __future__ import annotations

from typing import Any

import polars as pl

__all__ = ["EventFrame", "FramePlot"]


class FramePlot:
    """polars' plot namespace of a frame, callable as pandas' `DataFrame.plot` is."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self._frame = frame

    def __call__(self, x: str | None = None, y: str | None = None, kind: str = "line", **options: Any) -> Any:
        """An altair chart of column `y` against column `x` (pandas' `frame.plot(x=, y=, kind=)`).

        Args:
            x: the column on the horizontal axis.
            y: the column on the vertical axis.
            kind: `line` (default), `point`, `scatter` or `bar`: polars' plot method of that name.
            **options: passed on to polars (and altair), e.g. `color="run"`.

        Raises:
            ValueError: an unknown `kind`.
            ModuleUpgradeRequiredError: altair is missing (`pip install "eventlog[analysis]"`).
        """
        if kind not in ("line", "point", "scatter", "bar"):
            raise ValueError(f"plot kind {kind!r} is not one of line, point, scatter, bar")
        return getattr(self._namespace(), kind)(x=x, y=y, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._namespace(), name)

    def _namespace(self) -> Any:
        return pl.DataFrame.plot.fget(self._frame)  # type: ignore[attr-defined]


class EventFrame(pl.DataFrame):
    """A polars DataFrame of events whose `plot` may also be called (see the module docstring)."""

    @classmethod
    def of(cls, frame: pl.DataFrame) -> EventFrame:
        """The same frame (no copy) as an `EventFrame`."""
        made = cls.__new__(cls)
        made._df = frame._df  # polars' own constructor from its engine's frame does the same
        return made

    @property
    def plot(self) -> FramePlot:  # type: ignore[override]
        """Charts of the frame: `frame.plot(x="run", y="value")`, or polars' `frame.plot.line(...)`."""
        return FramePlot(self)
