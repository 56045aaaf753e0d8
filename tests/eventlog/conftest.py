"""Helpers shared by the core tests."""

from __future__ import annotations

from eventlog.store import Store
from query.scan import scan_store


def seen(store: Store, experiment: str = "*") -> tuple[int, int]:
    """(events a reader sees now, distinct event ids among them): equal means no duplicates."""
    frame = scan_store(store, experiment).select("writer", "seq").collect()
    return frame.height, frame.unique().height
