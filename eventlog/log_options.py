"""What a `Log` reads from its arguments or, when an argument is None, from the environment.

`$EVENTLOG_COMPACT_EVERY` and `$EVENTLOG_FLUSH_ON_STOP` let code that opens its own log (a framework
callback, the shortcuts) be configured without editing it; an explicit argument always wins, and a
malformed value is refused at `open()` naming the variable.
"""

from __future__ import annotations

import math
import os

from eventlog import env

__all__ = ["compaction_period", "flushes_on_stop"]

_YES = ("1", "true", "yes", "on")
_NO = ("0", "false", "no", "off")


def compaction_period(compact_every: float | None, *, remote: bool) -> float | None:
    """The seconds between a logger's compactions: the argument, else $EVENTLOG_COMPACT_EVERY, else None.

    Raises:
        ValueError: not a positive number, or asked for explicitly on a collector URI.
    """
    if compact_every is not None:
        if remote:
            raise ValueError(
                "compact_every cannot be used when logging to a collector: the collector owns the store "
                "(run it as `eventlog serve --compact-every SECONDS`)"
            )
        if not compact_every > 0:
            raise ValueError(f"compact_every must be a positive number of seconds, got {compact_every!r}")
        return float(compact_every)
    raw = os.environ.get(env.EVENTLOG_COMPACT_EVERY, "").strip()
    if not raw or remote:  # set for a whole cluster: a remote logger leaves it to the collector
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not seconds > 0:
        raise ValueError(f"${env.EVENTLOG_COMPACT_EVERY}={raw!r}: expected a positive number of seconds (or unset it)")
    return seconds


def flushes_on_stop(flush_on_stop: bool | None) -> bool:
    """Whether `exp.stop()` flushes: the argument, else $EVENTLOG_FLUSH_ON_STOP, else True.

    Raises:
        ValueError: the variable is set to something other than a yes or a no.
    """
    if flush_on_stop is not None:
        return flush_on_stop  # FlushPolicy checks that it is a bool
    raw = os.environ.get(env.EVENTLOG_FLUSH_ON_STOP, "").strip()
    if not raw or raw.lower() in _YES:
        return True
    if raw.lower() in _NO:
        return False
    raise ValueError(
        f"${env.EVENTLOG_FLUSH_ON_STOP}={raw!r}: expected 1/true/yes/on or 0/false/no/off "
        "(0 leaves stopped runs to the periodic flush, for sweeps), or unset it"
    )
