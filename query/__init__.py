"""How events come out: snapshots of the store, scans with pruning, filters, runs and statistics.

Every function takes a `Store` or a URI (None: $EVENTLOG_URI, else ./.eventlog); no logger needed.
"""

from __future__ import annotations

from eventlog.core.store import Store
from query.compare import compare as _compare
from query.damage import damage_aware, damaged_files
from query.data import DATA_COLUMNS
from query.data import data as _data
from query.describe import describe
from query.filters import Filter, InvalidFilterError, RunNotFoundError
from query.plot import plot_metric
from query.runs import last_values as _last_values
from query.runs import runs as _runs
from query.scan import as_store, scan
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
    "plot_metric",
    "runs",
    "scan",
    "summary",
    "take_snapshot",
]


def files(store: Store | str | None = None, experiment: Filter = "*") -> list[str]:
    """The URLs of the files of the current snapshot, for DuckDB, Spark or pyarrow.

    Args:
        store: a Store or URI (None: $EVENTLOG_URI, else ./.eventlog).
        experiment: the experiment(s): a name, a list, `*`, a glob or `re:`.

    Returns:
        Local paths or `s3://` URLs; every row carries (writer, seq) to de-duplicate by.

    Raises:
        InvalidFilterError: a `re:` regex that does not compile.
    """
    return take_snapshot(as_store(store), experiment).urls
