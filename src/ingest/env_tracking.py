"""Environment tracking (runnable/magnus): `EVENTLOG_TRACK_<key>[_STEP_<n>]=<value>` becomes a metric.

Variables present when a run stops are logged into it: values are JSON-decoded when they can be
(`"0.5"` → 0.5, `'{"a": 1}'` → a dict), numbers go into `value`, anything else into `value_json`.
"""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING, Any

from eventlog.env import EVENTLOG_TRACK_PREFIX

if TYPE_CHECKING:
    from eventlog.experiment import Experiment

__all__ = ["log_tracked_environment", "tracked_variables"]

_STEP = re.compile(r"^(?P<key>.+?)_STEP_(?P<step>\d+)$")


def tracked_variables(environ: dict[str, str] | None = None) -> list[tuple[str, Any, int | None]]:
    """The (key, decoded value, step) of every `EVENTLOG_TRACK_*` variable, sorted by key and step."""
    environ = dict(os.environ if environ is None else environ)
    tracked = []
    for name, raw in environ.items():
        if not name.startswith(EVENTLOG_TRACK_PREFIX) or name == EVENTLOG_TRACK_PREFIX:
            continue
        rest = name[len(EVENTLOG_TRACK_PREFIX) :]
        found = _STEP.match(rest)
        key, step = (found["key"], int(found["step"])) if found else (rest, None)
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        tracked.append((key.lower(), value, step))
    return sorted(tracked, key=lambda t: (t[0], -1 if t[2] is None else t[2]))


def log_tracked_environment(experiment: Experiment) -> int:
    """Log every tracked variable into `experiment`'s active run as a `metric` event; returns how many."""
    count = 0
    for key, value, step in tracked_variables():
        experiment.log_event("metric", key, value, step=step)
        count += 1
    return count
