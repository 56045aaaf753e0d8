"""The read side of `Experiment`: its events, runs, statistics, artifacts and plots, via `query/`.

A mixin, so that `experiment.py` holds the run life cycle and the write path, and this module the
reads; `Experiment` inherits both halves of the omega-ml API.

`query` is imported inside the methods on purpose, to save start-up time: it loads polars
(~0.2 s), which a training process that only logs never needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventlog.compaction.clear import clear_experiment
from eventlog.core.artifacts import restore_artifacts

if TYPE_CHECKING:
    import polars as pl

    from eventlog.core.store import Store
    from eventlog.log import Log
    from query.filters import Filter

__all__ = ["ExperimentReads"]


class ExperimentReads:
    """Reading methods of `Experiment` (needs `name`, `_log` and `_run` from it)."""

    name: str
    _log: Log
    _run: int | None

    @property
    def _store(self) -> Store:
        """The store to read, with this process's stopped runs in it (`Log.store_for_reading`)."""
        return self._log.store_for_reading()

    def _default_run(self, run: Any, since: Any) -> Any:
        """`run=None`: the current run; with none, the latest run (omega-ml's `exp.data()` on a
        handle got from the store shows the latest run; `run="*"` is every run); with `since`,
        every run."""
        if run is not None:
            return run
        if since is not None:
            return "*"
        if self._run is not None:
            return self._run
        latest = self._log.latest_run(self.name)
        return "*" if latest is None else latest

    def data(
        self,
        run: Filter = None,
        event: Filter = None,
        key: Filter = None,
        step: Filter = None,
        since: Filter = None,
        end: Filter = None,
        lazy: bool = False,
        **extra: Filter,
    ) -> pl.DataFrame | pl.LazyFrame:
        """Events of this experiment as a polars DataFrame sorted by `dt` (LazyFrame with `lazy=True`).

        Filters take a value, a list, `"*"`/`"all"`, or a wildcard pattern; `run=None` is the
        current run (the latest run if the handle has none, as in omega-ml; all runs if `since`
        is given); a negative run counts back from the latest. See `query.data` for all the forms.
        """
        import query  # lazy: see the module docstring

        return query.data(
            self._store,
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

    def summary(self, run: Filter = "*", by_run: bool = False, **filters: Filter) -> pl.DataFrame:
        """Summary statistics of the metrics (pandas `describe` plus first/last); see `query.summary`."""
        import query  # lazy: see the module docstring

        return query.summary(self._store, experiment=self.name, run=run, by_run=by_run, **_keywords(filters))

    def runs(self, **filters: Filter) -> pl.DataFrame:
        """One row per run, rebuilt from its events; see `query.runs`."""
        import query  # lazy: see the module docstring

        return query.runs(self._store, experiment=self.name, **_keywords(filters))

    def restore_artifacts(
        self,
        key: Filter = None,
        run: Filter = None,
        *,
        dest: str | Path | None = None,
        allow_pickle: bool | None = None,
        **filters: Filter,
    ) -> list[Any]:
        """The artifacts logged under `key` (all keys by default), as objects; files and directories as local paths.

        Args:
            key: artifact name(s) or a pattern.
            run: the run(s) (default: as `data()`).
            dest: the directory to download files into (default: see `eventlog.core.artifacts.restore_artifact`).
            allow_pickle: None (default) unpickles only the pickles you logged yourself (signed with
                your key, see `eventlog.core.artifact_trust`); True any pickle (only for stores whose
                writers you trust: unpickling runs their code); False none.
            **filters: further filters, as for `data()`.

        Raises:
            ArtifactCorruptError: a payload is missing or was changed.
            UnsafeArtifactError: a reference points outside its run's artifact area or the
                destination, or a pickle is not trusted under `allow_pickle`.
        """
        frame = self.data(run=run, event="artifact", key=key, **_keywords(filters))  # flushed for reading, if need be
        return restore_artifacts(self._log.store, frame, dest=dest, allow_pickle=allow_pickle)

    def plot(self, key: Filter, run: Filter = "*", **options: Any) -> Any:
        """A matplotlib figure of metric `key` against step, one line per run; see `query.plot.plot_metric`.

        `options` are its filters and its `title` and `smooth`.
        """
        from query.plot import plot_metric  # lazy: see the module docstring

        return plot_metric(self._store, self.name, key, run=run, **options)

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


def _keywords(filters: Mapping[str, Filter]) -> dict[str, Any]:
    """Filters as keywords of a query function (typed loosely: mypy cannot tell that none of them
    names one of the function's other options, such as `summary`'s `latency`)."""
    return dict(filters)
