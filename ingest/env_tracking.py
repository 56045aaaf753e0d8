"""Environment tracking (runnable/magnus): `EVENTLOG_TRACK_<key>[_STEP_<n>]=<value>` becomes a metric.

Variables present when a run stops are logged into it (`Experiment.stop` calls
`log_tracked_environment` with the run's writer): the key is the rest of the variable name, as
written (`EVENTLOG_TRACK_val_loss` → `val_loss`, `EVENTLOG_TRACK_LR` → `LR`); a `_STEP_<n>`
suffix sets the step, and without one the step is 0, as runnable documents; values are
JSON-decoded when they can be (`"0.5"` → 0.5, `'{"a": 1}'` → a dict, anything else stays a
string), numbers go into `value`, anything else into `value_json`. A variable that cannot be
logged (an invalid key) is skipped with a warning: it never stops the run from stopping.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from typing import Any

from eventlog.env import EVENTLOG_TRACK_PREFIX
from ingest.run_writer import RunWriter

__all__ = ["log_tracked_environment", "tracked_variables"]

_STEP = re.compile(r"^(?P<key>.+?)_STEP_(?P<step>\d+)$")
_log = logging.getLogger("eventlog.env_tracking")


def tracked_variables(environ: Mapping[str, str] | None = None) -> list[tuple[str, Any, int]]:
    """The (key, decoded value, step) of every `EVENTLOG_TRACK_*` variable, sorted by key and step.

    Args:
        environ: the variables to look at (default `os.environ`).

    Returns:
        One tuple per variable; the step is 0 without a `_STEP_<n>` suffix.
    """
    environ = os.environ if environ is None else environ
    # names first, values only of the tracked ones: this runs at every stop (decoding every
    # value of os.environ was 7 % of a short run's cost, and decoding every name 3 %)
    if environ is os.environ and os.supports_bytes_environ:
        prefix = os.fsencode(EVENTLOG_TRACK_PREFIX)
        names = [os.fsdecode(name) for name in list(os.environb) if name.startswith(prefix)]
    else:
        names = [name for name in list(environ) if name.startswith(EVENTLOG_TRACK_PREFIX)]
    names = [name for name in names if name != EVENTLOG_TRACK_PREFIX]
    tracked = []
    for name in names:
        raw = environ.get(name)
        if raw is None:  # unset meanwhile
            continue
        rest = name[len(EVENTLOG_TRACK_PREFIX) :]
        found = _STEP.match(rest)
        key, step = (found["key"], int(found["step"])) if found else (rest, 0)
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        tracked.append((key, value, step))
    return sorted(tracked, key=lambda t: (t[0], t[2]))


def log_tracked_environment(writer: RunWriter, environ: Mapping[str, str] | None = None) -> int:
    """Log every tracked variable into a run as a `metric` event.

    Args:
        writer: the run's writer.
        environ: the variables to look at (default `os.environ`).

    Returns:
        How many variables were logged (skipped ones are not counted).
    """
    count = 0
    for key, value, step in tracked_variables(environ):
        try:
            writer.log_event("metric", key, value, step=step)
        except (TypeError, ValueError) as exc:  # InvalidNameError is a ValueError
            _log.warning("eventlog: %s* variable with key %r (step %d) not logged: %s", EVENTLOG_TRACK_PREFIX, key, step, exc)
            continue
        count += 1
    return count
