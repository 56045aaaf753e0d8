"""How events come out: snapshots of the store, scans with pruning, filters, runs and statistics.

Every function takes a `Store` or a URI (None: $EVENTLOG_URI, else ./.eventlog); no logger needed.
"""

from __future__ import annotations

from query.compare import compare as _compare
from query.damage import damage_aware, damaged_files
from query.data import DATA_COLUMNS
from query.data import data as _data
from query.describe import describe
from query.files import FileList, files, list_files, pin_files, unpin
from query.filters import Filter, InvalidFilterError, RunNotFoundError
from query.plot import plot_metric
from query.runs import last_values as _last_values
from query.runs import runs as _runs
from query.scan import scan
from query.snapshot import Snapshot, take_snapshot
from query.summary import summary as _summary
from query.tail import follow

# Every read of a store names damaged files, or reads around them with on_damaged="skip".
compare = damage_aware(_compare)
data = damage_aware(_data)
last_values = damage_aware(_last_values)
runs = damage_aware(_runs)
summary = damage_aware(_summary)

__all__ = [
    "DATA_COLUMNS",
    "FileList",
    "Filter",
    "InvalidFilterError",
    "RunNotFoundError",
    "Snapshot",
    "compare",
    "damaged_files",
    "data",
    "describe",
    "files",
    "follow",
    "last_values",
    "list_files",
    "pin_files",
    "plot_metric",
    "runs",
    "scan",
    "summary",
    "take_snapshot",
    "unpin",
]

