"""Compaction: the only writer of manifests, and the only code that deletes log files.

`compactor` merges a partition's small segments into large sorted files and commits a manifest
(DESIGN §3), through `merge` (read, de-duplicate, sort), `stream` (bounded-memory writing of one
partition) and `commit` (create-if-absent of the next manifest version); `gc` deletes what a
manifest covers once no reader can still need it; `clear` deletes a whole experiment.
"""

from __future__ import annotations

from eventlog.compaction.clear import clear_experiment
from eventlog.compaction.compactor import CompactionPolicy, CompactionReport, compact, forget_experiment
from eventlog.compaction.gc import MIN_GRACE, GcReport, collect_garbage

__all__ = [
    "MIN_GRACE",
    "CompactionPolicy",
    "CompactionReport",
    "GcReport",
    "clear_experiment",
    "collect_garbage",
    "compact",
    "forget_experiment",
]
