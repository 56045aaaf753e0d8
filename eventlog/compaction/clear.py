"""Deleting one experiment's data (`Experiment.clear(force=True)`)."""

from __future__ import annotations

from eventlog.compaction.compactor import forget_experiment
from eventlog.core import layout
from eventlog.core.run_claims import forget_high_water
from eventlog.core.store import Store

__all__ = ["clear_experiment"]


def clear_experiment(store: Store, experiment: str) -> int:
    """Delete every segment, compacted file, run claim and artifact of `experiment`; returns the count.

    A manifest version without the experiment is committed first, so that readers never see a
    manifest naming a deleted file.
    """
    forget_experiment(store, experiment)
    prefixes = [
        layout.experiment_dir(layout.SEGMENTS, experiment),
        layout.experiment_dir(layout.COMPACTED, experiment),
        layout.claims_dir(experiment),
        layout.artifact_dir(experiment),
    ]
    paths = [f.path for prefix in prefixes for f in store.find(prefix)]
    store.delete(paths)
    for prefix in prefixes:  # left behind, they would keep the experiment in `list_experiments`
        store.remove_empty_dirs(prefix)
    forget_high_water(store, experiment)  # run numbers start at 1 again (in this process; others skip ahead)
    return len(paths)
