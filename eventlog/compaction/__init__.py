"""Compaction: the only writer of manifests, and the only code that deletes log files.

`compactor` merges a partition's small segments into large sorted files and commits a manifest
(DESIGN §3), through `merge` (read, de-duplicate, sort), `stream` (bounded-memory writing of one
partition) and `commit` (create-if-absent of the next manifest version); `gc` deletes what a
manifest covers once no reader can still need it; `clear` deletes a whole experiment; `watch`
runs compaction (and gc) on a timer, so that nobody has to.
"""

from __future__ import annotations

from eventlog.compaction.clear import clear_experiment
from eventlog.compaction.compactor import CompactionPolicy, CompactionReport, compact, forget_experiment
from eventlog.compaction.gc import MIN_GRACE, GcReport, collect_garbage
from eventlog.compaction.watch import AUTOMATIC_POLICY, CompactionWatcher

__all__ = [
    "AUTOMATIC_POLICY",
    "MIN_GRACE",
    "CompactionPolicy",
    "CompactionReport",
    "CompactionWatcher",
    "GcReport",
    "clear_experiment",
    "collect_garbage",
    "compact",
    "forget_experiment",
]
