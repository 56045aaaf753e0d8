"""Helpers shared by the core tests."""

from __future__ import annotations

from eventlog.experiment import Experiment
from eventlog.store import Store
from query.scan import scan_store


def seen(store: Store, experiment: str = "*") -> tuple[int, int]:
    """(events a reader sees now, distinct event ids among them): equal means no duplicates."""
    frame = scan_store(store, experiment).select("writer", "seq").collect()
    return frame.height, frame.unique().height


def log_loss_runs(exp: Experiment, *, runs: int, steps: int) -> None:
    """Log `runs` runs of `exp`, each with `steps` `loss` metrics (1 / (step + 1)), flushed at the end of each run."""
    for _ in range(runs):
        with exp:
            for step in range(steps):
                exp.log_metric("loss", 1.0 / (step + 1), step=step)
            exp.flush()
