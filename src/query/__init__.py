"""How events come out: snapshots of the store, scans with pruning, filters, runs and statistics.

Every function takes a `Store` or a URI (None: $EVENTLOG_URI, else ./eventlog); no logger needed.
"""

from __future__ import annotations

from query.data import DATA_COLUMNS, data, scan
from query.runs import runs
from query.snapshot import Snapshot, take_snapshot
from query.summary import summary

__all__ = ["DATA_COLUMNS", "Snapshot", "data", "files", "runs", "scan", "summary", "take_snapshot"]


def files(store: object = None, experiment: str = "*") -> list[str]:
    """The URLs of the files of the current snapshot, for DuckDB, Spark or pyarrow."""
    from query.scan import as_store

    return take_snapshot(as_store(store), experiment).urls  # type: ignore[arg-type]
