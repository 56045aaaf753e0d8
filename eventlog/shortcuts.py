"""Module-level conveniences: `eventlog.experiment(name)` and `eventlog.track_this(**values)`."""

from __future__ import annotations

import threading
from typing import Any

from eventlog.core.store import resolve_uri
from eventlog.errors import NoActiveRunError
from eventlog.experiment import Experiment
from eventlog.log import Log

__all__ = ["experiment", "track_this"]

_shared_logs: dict[str, Log] = {}
_lock = threading.Lock()


def _shared_log(uri: str | None) -> Log:
    key = resolve_uri(uri)
    with _lock:
        log = _shared_logs.get(key)
        if log is None or log.recorder.closed:
            log = _shared_logs[key] = Log(uri)
        return log


def experiment(name: str, uri: str | None = None) -> Experiment:
    """Shorthand for `eventlog.open(uri).experiment(name)`, sharing one `Log` per URI in the process."""
    return _shared_log(uri).experiment(name)


def track_this(step: int = 0, **values: Any) -> None:
    """Log `values` as metrics of the innermost active run (runnable/magnus's `track_this`).

    Numbers go into `value`; anything else (dicts, strings, lists, and pydantic models, which
    are dumped as dicts by alias) into `value_json`.

    Args:
        step: the step of every value (default 0, as in magnus).
        **values: key=value pairs to log.

    Raises:
        NoActiveRunError: no run is active in this process.
        TypeError: a value is not JSON-encodable (log it with `log_artifact`), or `step` is not an int.

    Example:
        >>> with eventlog.experiment("iris"):  # doctest: +SKIP
        ...     eventlog.track_this(step=1, loss=0.25, config=MyConfig())
    """
    active = Experiment.innermost_active()
    if active is None:
        raise NoActiveRunError("track_this() needs an active run: call it inside `with exp:` (or after exp.start())")
    for key, value in values.items():
        active.log_event("metric", key, value, step=step)
