"""How events come out: snapshots of the store, scans with pruning, filters, runs and statistics.

Every function takes a `Store` or a URI (None: $EVENTLOG_URI, else ./.eventlog); no logger needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventlog.core.store import Store
from query.compare import compare as _compare
from query.damage import damage_aware, damaged_files
from query.data import DATA_COLUMNS
from query.data import data as _data
from query.describe import describe
from query.files import FileList, list_files, pin_files, unpin
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


def files(
    store: Store | str | None = None,
    experiment: Filter = "*",
    *,
    run: int | Sequence[int] | None = None,
    since: Any = None,
    end: Any = None,
) -> list[str]:
    """The URLs of the current snapshot's files that may hold matching events, for DuckDB, Spark or pyarrow.

    The list stays valid for gc's minimum grace (300 s); `list_files` says until when, with the
    manifest version, and `pin_files` holds a list for longer.

    Args:
        store: a Store or URI (None: $EVENTLOG_URI, else ./.eventlog).
        experiment: the experiment(s): a name, a list, `*`, a glob or `re:`.
        run: a run number or a list of them (None: every run).
        since: the earliest event time (a datetime, ISO text or a duration ago such as `"2h"`).
        end: the latest event time, same forms.

    Returns:
        Local paths or `s3://` URLs; every row carries (writer, seq) to de-duplicate by.

    Raises:
        InvalidFilterError: a `re:` regex that does not compile, or a bad run or time.
    """
    return list_files(store, experiment, run=run, since=since, end=end).urls
