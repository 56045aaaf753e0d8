"""eventlog: an event-sourced, append-only log for ML experiment tracking.

```python
import eventlog

log = eventlog.open()                  # $EVENTLOG_URI, else ./eventlog; any fsspec URI
with log.experiment("iris") as exp:    # a new run
    exp.log_param("lr", 0.1)
    exp.log_metric("loss", 0.5, step=1)
exp.data()                             # a polars DataFrame of the run's events
```
"""

from __future__ import annotations

# The core first: ingest/ and query/ import these modules while this package initialises.
from eventlog.artifacts import ArtifactCorruptError
from eventlog.compactor import CompactionError, CompactionReport
from eventlog.errors import (
    AlreadyExistsError,
    BackgroundError,
    EventLogError,
    InvalidNameError,
    NoActiveRunError,
    StoreUnavailableError,
)
from eventlog.event import Event, arrow_schema

# The facade, which composes ingest/ and query/.
from eventlog.experiment import Experiment
from eventlog.gc import GcReport, UnsafeGraceError
from eventlog.log import Log, open
from eventlog.shortcuts import experiment, track_this
from eventlog.store import Store, open_store

__all__ = [
    "AlreadyExistsError",
    "ArtifactCorruptError",
    "BackgroundError",
    "CompactionError",
    "CompactionReport",
    "Event",
    "EventLogError",
    "Experiment",
    "GcReport",
    "InvalidNameError",
    "Log",
    "NoActiveRunError",
    "Store",
    "StoreUnavailableError",
    "UnsafeGraceError",
    "arrow_schema",
    "experiment",
    "open",
    "open_store",
    "track_this",
]
