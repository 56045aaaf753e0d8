"""The `run` filter: negative numbers (from the latest run), its row predicate, and file pruning.

`run=-1` means each experiment's latest run, so a negative filter is resolved per experiment
against its runs before it selects rows. A raw segment's name states the range of runs it holds
(`layout.segment_path`), so a read of a few runs skips the other runs' segments without opening
them: on S3 one GET less per segment, which is most of the cost of one run's `data()` in an
experiment of many small segments. The manifest states the same range for each compacted file
(`CompactedFile.runs`; the compactor merges inputs in run order, so the ranges are narrow).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import polars as pl

from eventlog.core import layout
from query.filters import RunNotFoundError, is_everything, is_pattern, match
from query.snapshot import Snapshot

__all__ = [
    "may_hold_runs",
    "needs_resolving",
    "resolve_runs",
    "run_predicate",
    "runs_by_experiment",
    "runs_predicate",
    "skip_other_runs",
]


def _negative(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value < 0


def needs_resolving(run: Any) -> bool:
    """True if the run filter holds a negative number (a run counted from the latest)."""
    if _negative(run):
        return True
    if isinstance(run, slice):
        return _negative(run.start) or _negative(run.stop)
    if isinstance(run, (list, tuple, set, frozenset)):
        return any(needs_resolving(r) for r in run)
    return False


def resolve_runs(run: Any, known: list[int], experiment: str = "") -> Any:
    """Replace negative run numbers (-1 is the latest) by real ones, given the experiment's runs.

    Args:
        run: a run filter: an int, a negative int, a list, a slice (`slice(-3, None)`: the three
            latest runs; bounds are run numbers, the stop exclusive), `*` or a pattern.
        known: the experiment's run numbers, ascending.
        experiment: its name, for the error message.

    Returns:
        The filter with every negative number resolved.

    Raises:
        RunNotFoundError: a negative number reaches past the first run.
    """
    if _negative(run):
        if len(known) < -run:
            raise RunNotFoundError(
                f"run={run} asks for the {-run}th latest run of experiment {experiment!r}, which has "
                f"{len(known)} run(s); use run='*' to list them"
            )
        return known[run]
    if isinstance(run, slice):
        start = resolve_runs(run.start, known, experiment) if _negative(run.start) else run.start
        stop = (resolve_runs(run.stop, known, experiment) if len(known) >= -run.stop else 0) if _negative(run.stop) else run.stop
        return slice(start, stop, run.step)
    if isinstance(run, (list, tuple, set, frozenset)):
        return [resolve_runs(r, known, experiment) for r in run]
    return run


def runs_by_experiment(experiments: list[str], run: Any, known_runs: Callable[[str], list[int]]) -> dict[str, Any]:
    """The run filter resolved against each experiment's runs (see `resolve_runs`).

    Args:
        experiments: the experiments read.
        run: a run filter with negative numbers.
        known_runs: an experiment's run numbers, ascending.

    Returns:
        Experiment -> its resolved filter; an experiment whose runs a negative number reaches
        past is left out (none of its runs is wanted).

    Raises:
        RunNotFoundError: that leaves out every experiment.
    """
    resolved: dict[str, Any] = {}
    missing: RunNotFoundError | None = None
    for name in experiments:
        try:
            resolved[name] = resolve_runs(run, known_runs(name), name)
        except RunNotFoundError as exc:
            missing = exc
    if missing is not None and not resolved:
        raise missing
    return resolved


def run_predicate(run: Any, resolved: dict[str, Any] | None) -> pl.Expr | None:
    """The row predicate of a run filter.

    Args:
        run: the filter as given.
        resolved: its resolution per experiment (`runs_by_experiment`), or None when it holds no
            negative number.

    Returns:
        The predicate, or None when every run is wanted.
    """
    return match("run", run) if resolved is None else runs_predicate(resolved)


def runs_predicate(by_experiment: dict[str, Any]) -> pl.Expr:
    """The row predicate of a run filter per experiment: rows of other experiments do not match.

    Args:
        by_experiment: experiment -> its run filter (no negative numbers).

    Returns:
        The predicate (matching nothing when `by_experiment` is empty).
    """
    predicate: pl.Expr = pl.lit(False)
    for name, filter_ in by_experiment.items():
        one = match("run", filter_)
        # the experiment stays in the predicate even when only one matched: `tail` applies it to
        # files that land later, maybe of another experiment the pattern matches
        this = pl.col("experiment") == name
        predicate = predicate | (this if one is None else this & one)
    return predicate


def may_hold_runs(run: Any, low: int, high: int) -> bool:
    """Whether a file holding only runs `low`..`high` may hold a run the filter wants.

    Only what is certain prunes: numbers, lists of them and slices with resolved bounds; anything
    else (a pattern, `*`, text) may match, so the file is kept.
    """
    if is_everything(run) or is_pattern(run) or isinstance(run, bool):
        return True
    if isinstance(run, (int, float)):
        return low <= run <= high
    if isinstance(run, slice):
        start, stop = run.start, run.stop
        if not all(b is None or (isinstance(b, (int, float)) and not isinstance(b, bool)) for b in (start, stop)):
            return True
        return (start is None or start <= high) and (stop is None or stop > low)
    if isinstance(run, (list, tuple, set, frozenset)):
        return any(may_hold_runs(r, low, high) for r in run)
    return True


def skip_other_runs(snapshot: Snapshot, wanted: Callable[[str], Any]) -> Snapshot:
    """The snapshot without the files that hold none of the wanted runs, by the range of runs a raw
    segment's name or the manifest's entry of a compacted file states (`Snapshot.runs_of`).

    Files that state no range (segments named, or files compacted, before ranges were) are kept.

    Args:
        snapshot: the files to read.
        wanted: an experiment's run filter (resolved: no negative numbers); `[]` for none.

    Returns:
        A Snapshot with the files that may hold a wanted run.
    """
    kept = []
    for info in snapshot.files:
        stated = snapshot.runs_of(info.path)
        if stated is None or may_hold_runs(wanted(layout.experiment_of(info.path) or ""), *stated):
            kept.append(info)
    return snapshot if len(kept) == len(snapshot.files) else replace(snapshot, files=kept)
