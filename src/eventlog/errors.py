"""The one exception hierarchy of eventlog: every error the library raises derives from `EventLogError`.

Leaves also inherit the matching built-in (`FileExistsError`, `ValueError`, ...) so that callers
who catch the built-in keep working.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExistsError",
    "BackgroundError",
    "EventLogError",
    "InvalidNameError",
    "NoActiveRunError",
    "StoreUnavailableError",
]


class EventLogError(Exception):
    """Root of every error raised by eventlog."""


class InvalidNameError(EventLogError, ValueError):
    """An experiment name or key breaks a naming rule (the message says which rule)."""


class AlreadyExistsError(EventLogError, FileExistsError):
    """A create-if-absent write found the object already there (another writer won, or a retry landed)."""


class StoreUnavailableError(EventLogError, OSError):
    """The store URI cannot be reached: it does not exist, has no credentials, or refuses access."""


class NoActiveRunError(EventLogError, RuntimeError):
    """An event was logged on an experiment handle that has no started run."""


class BackgroundError(EventLogError, RuntimeError):
    """The background flusher failed; raised by the next `log_*` or `flush()` call, chained to the cause."""
