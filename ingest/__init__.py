"""How events get in: the in-memory write buffer, the flusher, the sink, environment tracking."""

from __future__ import annotations

from ingest.buffer import WriteBuffer
from ingest.env_tracking import log_tracked_environment, tracked_variables
from ingest.flusher import Flusher, MemoryOutbox
from ingest.recorder import FlushPolicy, Recorder
from ingest.recovery import RecoveryError, RecoveryReport, recover, recover_spools
from ingest.sink import StoreSink
from ingest.spool import Spool, SpoolOutbox

__all__ = [
    "FlushPolicy",
    "Flusher",
    "MemoryOutbox",
    "Recorder",
    "RecoveryError",
    "RecoveryReport",
    "Spool",
    "SpoolOutbox",
    "StoreSink",
    "WriteBuffer",
    "log_tracked_environment",
    "recover",
    "recover_spools",
    "tracked_variables",
]
