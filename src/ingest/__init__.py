"""How events get in: the in-memory write buffer, the flusher, the sink, environment tracking."""

from __future__ import annotations

from ingest.buffer import WriteBuffer
from ingest.env_tracking import log_tracked_environment, tracked_variables
from ingest.flusher import Flusher
from ingest.recorder import FlushPolicy, Recorder
from ingest.sink import StoreSink

__all__ = ["FlushPolicy", "Flusher", "Recorder", "StoreSink", "WriteBuffer", "log_tracked_environment", "tracked_variables"]
