"""Events set aside because their destination refused them: kept with the reason, never silently lost.

DESIGN §11: one bad event never stops a writer. Values are checked at the call, so this is defence
in depth: when a collector answers 400 to a batch (an event it cannot take), the writer splits the
batch until each refused event stands alone, sets those aside here, and lets the rest flow. A
quarantine file is JSON lines, one per event: `{"reason": ..., "event": {<field>: <value>}}`,
beside the writer's spool (`<spool dir>/quarantine/`), so a person can read, fix and re-log them.
`Log.flush()` warns with `EventsQuarantinedWarning` saying how many and where.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["Quarantine"]


class Quarantine:
    """A writer's quarantine file: events set aside with the reason they were refused.

    Args:
        directory: where the file goes (created on the first event).
        name: the file's name without suffix (the writer id, so each process has its own file).
    """

    def __init__(self, directory: str, name: str) -> None:
        self.path = os.path.join(directory, f"{name}.jsonl")
        self.count = 0
        self._seen: set[tuple[Any, Any]] = set()  # (writer, seq): a retried batch is set aside once
        self._lock = threading.Lock()

    def add(self, columns: Mapping[str, Sequence[Any]], reason: str) -> None:
        """Append every row of a column-shaped batch with `reason`, durably (fsync), and count them.

        Raises:
            OSError: the file cannot be written (the caller keeps the events and retries).
        """
        names = list(columns)
        rows = len(columns[names[0]]) if names else 0
        lines = []
        for index in range(rows):
            event = {name: columns[name][index] for name in names}
            identity = (event.get("writer"), event.get("seq"))
            if identity[1] is not None:  # without a seq (not yet numbered) it cannot be a retry
                if identity in self._seen:
                    continue
                self._seen.add(identity)
            lines.append(json.dumps({"reason": reason, "event": event}, default=_plain, ensure_ascii=True))
        if not lines:
            return
        with self._lock:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with open(self.path, "a", encoding="ascii") as f:
                f.write("\n".join(lines) + "\n")
                f.flush()
                os.fsync(f.fileno())
            self.count += len(lines)


def _plain(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    return str(value)
