"""The core: what an event is and where it lives. Nothing here knows the layers above it.

One module per concept: `event` (the schema, in one place), `values` (Python values to event
fields), `names` (naming rules), `identity` (who writes), `layout` (every path in a store),
`store` (the tiny storage interface over fsspec) and `backends` (how each filesystem makes
create-if-absent atomic), `segment` (encoding and publishing one immutable file), `manifest`
(the compactor's commits), `run_claims` (run numbers), `catalog` (which experiments exist) and
`artifacts` (payloads beside the log). `ingest`, `query`, `eventlog.compaction` and the facade
build on these; this package imports none of them (tests/test_layers.py keeps it so).
"""

from __future__ import annotations

from eventlog.core.event import Event, arrow_schema
from eventlog.core.identity import Identity, current_identity
from eventlog.core.segment import Segment, publish
from eventlog.core.store import FileInfo, Store, open_store, resolve_uri

__all__ = [
    "Event",
    "FileInfo",
    "Identity",
    "Segment",
    "Store",
    "arrow_schema",
    "current_identity",
    "open_store",
    "publish",
    "resolve_uri",
]
