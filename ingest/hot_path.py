"""The hot path: `log_metric` and `log_metrics` as closures over one run's rows and key→slot tables.

Measured on this 2-core machine (benchmarks/bench_log.py): a method doing the same work costs
~0.15 µs more per call than a closure, because every `self.` lookup is a dictionary access.
So each run's `ingest.run_writer.RunWriter` builds one, and `Experiment` installs it as its
instance attribute `log_metric` while the run is active.

Everything unusual (a key seen for the first time in this run, a value that is not a number of
a plain type, a step that is not an int, an explicit `dt`, per-event extras, a full buffer) goes to
`slow`, which validates, registers and appends. Python ints and numpy float/int scalars, which
users log all the time, stay on the fast path: they are converted with `float()` there (an int too
large for a float64 goes to `slow`, which says so); `bool` is not among them (`slow` decides). The writer forces every call onto the slow path by clearing
`codes` (new extras, a background error, or the end of its run), so the closure needs no flag
checks.

When the package was built with a C compiler, `log_metric` is a `MetricLogger` from
`ingest/_hot_path.c` wrapping the closure: it takes the common call whole (a known str key, a
value of a fast type, an int step or none, room in the buffer) and hands every other call to the
closure unchanged. The closure alone costs ~0.36-0.45 µs a call (benchmarks/bench_value_types.py),
most of it the interpreter; the compiled path 0.17-0.25 µs, the call itself and the clock. Without
a compiler the install still succeeds and logs through the closure.

`log_metrics` is a closure for the same reason (measured: a method on `Experiment` calling a method
on the writer, which read the recorder's threshold property, cost ~1.5 µs of a 10-key call's
~3 µs). A mapping whose exact key tuple the run has seen is packed into one block row of native
float64s; anything else goes to its `slow`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from time import time_ns
from typing import Any

import numpy as np

from ingest.buffer import SCALAR_WIDTH

try:
    from ingest._hot_path import MetricLogger
except ImportError:  # built without a C compiler (the extension is optional): the closure alone
    MetricLogger = None

#: True when `log_metric` runs through the compiled fast path (`ingest/_hot_path.c`).
COMPILED = MetricLogger is not None

__all__ = ["COMPILED", "FAST_NUMBER_TYPES", "make_log_metric", "make_log_metrics"]

#: Value types besides float that `log_metric` converts on the fast path (exact types: not bool).
FAST_NUMBER_TYPES = frozenset(
    {int, np.float64, np.float32, np.float16, np.int64, np.int32, np.int16, np.int8, np.uint64, np.uint32, np.uint16, np.uint8}
)


def make_log_metric(
    rows: list[Any],
    codes: dict[str, int],
    threshold: int,
    slow: Callable[[str, Any, Any, Any, dict[str, Any]], None],
    full: Callable[[], bool],
    *,
    compiled: bool = True,
) -> Callable[..., None]:
    """Build a `log_metric(key, value, step=None, dt=None, **extra)` for one run.

    Args:
        rows: the buffer's flat scalar rows, extended by `slot, value, step, dt_ns` per event.
        codes: key → slot for this run; a miss sends the call to `slow`.
        threshold: buffered events at which `full()` is called.
        slow: handles every call the fast path does not (validation, registration, errors).
        full: wakes the flusher and applies back-pressure; False means drop the event.
        compiled: use the compiled fast path when it is built (False: the closure alone, for tests).
    """
    extend = rows.extend
    get = codes.get
    limit = threshold * SCALAR_WIDTH
    numbers = FAST_NUMBER_TYPES

    def log_metric(key: str, value: Any, step: Any = None, dt: Any = None, **extra: Any) -> None:
        """Log `value` of metric `key` at `step` (see `Experiment.log_metric`)."""
        try:
            code = get(key)
        except TypeError:  # an unhashable key: `slow` says what a key must be (a try costs nothing in 3.11)
            slow(key, value, step, dt, extra)
            return
        if type(value) is not float:
            if type(value) not in numbers:
                slow(key, value, step, dt, extra)
                return
            try:
                value = float(value)
            except OverflowError:  # an int past 1.8e308: the slow path raises the documented TypeError
                slow(key, value, step, dt, extra)
                return
        if code is None or extra or dt is not None or (step is not None and type(step) is not int):
            slow(key, value, step, dt, extra)
            return
        if len(rows) >= limit and not full():
            return
        extend((code, value, step, time_ns()))

    if MetricLogger is None or not compiled:
        return log_metric
    return MetricLogger(rows, codes, limit, log_metric, numbers)  # type: ignore[no-any-return]


def make_log_metrics(
    rows: list[Any],
    keysets: dict[tuple[str, ...], tuple[int, Callable[..., bytes], int]],
    slow: Callable[[Mapping[str, Any], Any, Any], None],
    full: Callable[[], bool],
) -> Callable[..., None]:
    """Build a `log_metrics(mapping, step=None, dt=None)` for one run.

    Args:
        rows: the buffer's block rows, appended `(keyset, packed values, step, dt_ns)` per call.
        keysets: the mapping's key tuple → (keyset id, a packer of its values as float64 bytes,
            the number of buffered rows at which `full()` is called); a miss (a new key set, or
            a cleared table) sends the call to `slow`.
        slow: handles every call the fast path does not (validation, registration, errors).
        full: wakes the flusher and applies back-pressure; False means drop the call's events.
    """
    append = rows.append
    get = keysets.get

    def log_metrics(mapping: Mapping[str, Any], step: Any = None, dt: Any = None) -> None:
        known = get(tuple(mapping))
        if known is None or dt is not None or (step is not None and type(step) is not int):
            slow(mapping, step, dt)
            return
        keyset, pack, limit = known
        try:
            # struct packing converts and checks all the values in C: 0.47 µs for 20 values,
            # where array("d", values) took 1.2-1.8 µs and a separate heap buffer per call.
            values = pack(*mapping.values())
        except (struct.error, TypeError):
            slow(mapping, step, dt)
            return
        if len(rows) >= limit and not full():
            return
        append((keyset, values, step, time_ns()))

    return log_metrics
