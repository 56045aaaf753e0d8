"""Where flushed segments go: published to the store with create-if-absent, retried on failure."""

from __future__ import annotations

from eventlog.core.segment import Segment, publish
from eventlog.core.store import Store

__all__ = ["StoreSink"]


class StoreSink:
    """Publishes segments into a store. Idempotent: a segment that already landed counts as written."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __call__(self, segments: list[Segment]) -> None:
        """Publish every segment, in order; raises on the first failure (the caller retries all)."""
        for segment in segments:
            publish(self.store, segment)
