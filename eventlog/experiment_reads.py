"""The read side of `Experiment`: its events, runs, statistics, artifacts and plots, via `query/`.

A mixin, so that `experiment.py` holds the run life cycle and the write path, and this module the
reads; `Experiment` inherits both halves of the omega-ml API.

`query` is imported inside the methods on purpose, to save start-up time: it loads polars
(~0.2 s), which a training process that only logs never needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eventlog.compaction.clear import clear_experiment
from eventlog.core.artifacts import restore_artifacts

if TYPE_CHECKING:
    import polars as pl

    from eventlog.log import Log

__all__ = ["ExperimentReads"]


class ExperimentReads:
    """Reading methods of `Experiment` (needs `name`, `_log` and `_run` from it)."""

    name: str
    _log: Log
    _run: int | None

    def _default_run(self, run: Any, since: Any) -> Any:
        if run is None:
            return "*" if self._run is None or since is not None else self._run
        return run

    def data(
        self,
        run: Any = None,
        event: Any = None,
        key: Any = None,
        step: Any = None,
        since: Any = None,
        end: Any = None,
        lazy: bool = False,
        **extra: Any,
    ) -> pl.DataFrame | pl.LazyFrame:
        """Events of this experiment as a polars DataFrame sorted by `dt` (LazyFrame with `lazy=True`).

        Filters take a value, a list, `"*"`/`"all"`, or a wildcard pattern; `run=None` is the
        current run (all runs if there is none or `since` is given); a negative run counts back
        from the latest. See `query.data` for all the forms.
        """
        import query  # lazy: see the module docstring

        return query.data(
            self._log.store,
            experiment=self.name,
            run=self._default_run(run, since),
            event=event,
            key=key,
            step=step,
            since=since,
            end=end,
            lazy=lazy,
            **extra,
        )

    def summary(self, run: Any = "*", by_run: bool = False, **filters: Any) -> pl.DataFrame:
        """Summary statistics of the metrics (pandas `describe` plus first/last); see `query.summary`."""
        import query  # lazy: see the module docstring

        return query.summary(self._log.store, experiment=self.name, run=run, by_run=by_run, **filters)

    def runs(self, **filters: Any) -> pl.DataFrame:
        """One row per run, rebuilt from its events; see `query.runs`."""
        import query  # lazy: see the module docstring

        return query.runs(self._log.store, experiment=self.name, **filters)

    def restore_artifacts(self, key: Any = None, run: Any = None, **filters: Any) -> list[Any]:
        """The artifacts logged under `key` (all keys by default), as objects; files as local paths."""
        frame = self.data(run=run, event="artifact", key=key, **filters)
        return restore_artifacts(self._log.store, frame)

    def plot(self, key: Any, run: Any = "*", **filters: Any) -> Any:
        """A matplotlib figure of metric `key` against step, one line per run; see `query.plot`."""
        from query.plot import plot_metric  # lazy: see the module docstring

        return plot_metric(self._log.store, self.name, key, run=run, **filters)

    def clear(self, force: bool = False) -> int:
        """Delete this experiment's events, run claims and artifacts; refuses without `force=True`.

        Returns:
            The number of objects deleted.

        Raises:
            ValueError: `force` is not True.
        """
        if force is not True:
            raise ValueError(f"clear() deletes every event of experiment {self.name!r}; call clear(force=True) to confirm")
        self._log.flush()  # events still buffered would otherwise land after the delete
        return clear_experiment(self._log.store, self.name)
