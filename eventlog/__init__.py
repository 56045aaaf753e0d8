"""eventlog: an event-sourced, append-only log for ML experiment tracking.

```python
import eventlog

log = eventlog.open()                  # $EVENTLOG_URI, else ./.eventlog; any fsspec URI
with log.experiment("iris") as exp:    # a new run
    exp.log_param("lr", 0.1)
    exp.log_metric("loss", 0.5, step=1)
exp.data()                             # a polars DataFrame of the run's events
```

The package is a house with a room per concern (docs/architecture.md): `eventlog.core` (events,
values, names, the store and its layout), `eventlog.compaction` (compact, gc, clear), `ingest`
(how events get in), `query` (how they come out), and here the facade that composes them: `Log`,
`Experiment`, the shortcuts, `errors` and `env`. The names below are loaded on first use
(PEP 562), so that `import eventlog.core.store` (as `ingest` and `query` do) never imports the
facade, and `import eventlog` costs nothing until it is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from eventlog.errors import (  # the base layer: tiny, and imports nothing
    AlreadyExistsError,
    ArtifactCorruptError,
    BackgroundError,
    BatchError,
    BodyTooLargeError,
    CommitRaceLostError,
    CompactionError,
    CorruptRecordError,
    DamagedFileError,
    DamagedFilesSkippedWarning,
    EventLogError,
    EventsQuarantinedWarning,
    ExtraNotInstalledError,
    InvalidFilterError,
    InvalidNameError,
    MetricNotFoundError,
    NoActiveRunError,
    NothingToPlotError,
    RecoveryError,
    RemoteError,
    RemoteRejectedError,
    RunNotFoundError,
    StoreUnavailableError,
    UnsafeArtifactError,
    UnsafeGraceError,
    UserError,
)

if TYPE_CHECKING:
    from eventlog.compaction.compactor import CompactionPolicy, CompactionReport
    from eventlog.compaction.gc import GcReport
    from eventlog.core.event import Event, arrow_schema
    from eventlog.core.store import Store, open_store
    from eventlog.experiment import Experiment
    from eventlog.log import Log, open
    from eventlog.shortcuts import experiment, track_this

#: Where each public name lives (one module per concept; see the module's docstring).
_HOMES: dict[str, str] = {
    "CompactionPolicy": "eventlog.compaction.compactor",
    "CompactionReport": "eventlog.compaction.compactor",
    "Event": "eventlog.core.event",
    "Experiment": "eventlog.experiment",
    "GcReport": "eventlog.compaction.gc",
    "Log": "eventlog.log",
    "Store": "eventlog.core.store",
    "arrow_schema": "eventlog.core.event",
    "experiment": "eventlog.shortcuts",
    "open": "eventlog.log",
    "open_store": "eventlog.core.store",
    "track_this": "eventlog.shortcuts",
}

__all__ = [
    "AlreadyExistsError",
    "ArtifactCorruptError",
    "BackgroundError",
    "BatchError",
    "BodyTooLargeError",
    "CommitRaceLostError",
    "CompactionError",
    "CompactionPolicy",
    "CompactionReport",
    "CorruptRecordError",
    "DamagedFileError",
    "DamagedFilesSkippedWarning",
    "Event",
    "EventLogError",
    "EventsQuarantinedWarning",
    "Experiment",
    "ExtraNotInstalledError",
    "GcReport",
    "InvalidFilterError",
    "InvalidNameError",
    "Log",
    "MetricNotFoundError",
    "NoActiveRunError",
    "NothingToPlotError",
    "RecoveryError",
    "RemoteError",
    "RemoteRejectedError",
    "RunNotFoundError",
    "Store",
    "StoreUnavailableError",
    "UnsafeArtifactError",
    "UnsafeGraceError",
    "UserError",
    "arrow_schema",
    "experiment",
    "open",
    "open_store",
    "track_this",
]


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'eventlog' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
