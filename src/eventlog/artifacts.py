"""Artifacts: values and files kept with a run (DESIGN §2, §10).

JSON-able values are stored inline in the event; everything else is stored beside the log under
`artifacts/<experiment>/<run>/` and the event holds a reference (format, path, size, sha256).
"""

from __future__ import annotations

import json
from typing import Any

from eventlog.store import Store

__all__ = ["restore_artifacts", "store_artifact"]


def store_artifact(store: Store, experiment: str, run: int, name: str, obj: Any) -> dict[str, Any]:
    """Keep `obj` for a run and return the reference that the `artifact` event holds.

    Raises:
        TypeError: the object cannot be stored.
    """
    try:
        json.dumps(obj)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"artifact {name!r}: only JSON-able values are supported so far, got {type(obj).__name__}") from exc
    return {"format": "json", "data": obj}


def restore_artifacts(store: Store, frame: Any) -> list[Any]:
    """The objects referenced by the `artifact` events in `frame`, in order."""
    restored = []
    for text in frame["value_json"].to_list():
        ref = json.loads(text)
        restored.append(ref.get("data"))
    return restored
