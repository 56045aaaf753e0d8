"""Which experiments a store holds, read from its directory layout (no data files opened)."""

from __future__ import annotations

import fnmatch

from eventlog.core import layout
from eventlog.core.store import Store

__all__ = ["list_experiments"]


def list_experiments(store: Store, pattern: str = "*") -> list[str]:
    """The experiments in `store` whose name matches the glob `pattern`, sorted.

    An experiment exists once it has a run claim, a raw segment or a compacted file.
    """
    names = set()
    for area in (layout.SEGMENTS, layout.RUNS, layout.COMPACTED):
        for entry in store.list_dir(area):
            name = layout.experiment_of(entry)
            if name is not None:
                names.add(name)
    return sorted(n for n in names if fnmatch.fnmatchcase(n, pattern))
