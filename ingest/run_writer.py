"""`RunWriter`: everything one run writes into the process's buffer, and the only code that knows
the buffer's row layouts (`ingest.buffer`).

`Experiment` (the facade) owns the run's life cycle; for each run it makes a `RunWriter` and calls
it for every event. The writer validates each value at the call (`eventlog.core.values`,
`eventlog.core.names`), registers the run's (event, key, extras) combinations as buffer slots, and
appends rows. Its `log_metric` and `log_metrics` are the hot-path closures of `ingest.hot_path`;
`log_metrics` packs a whole mapping into one block row.

A writer is retired when its run ends (or another run starts on the same handle). A retired
writer's closure may still be held by user code (`log = exp.log_metric`): its calls then go to
the slow path, which hands them to `redirect` (the handle's current way of logging), so a stale
reference never writes into a stopped run.
"""

from __future__ import annotations

import math
import struct
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from eventlog.core.names import check_text, validate_extra_name, validate_key
from eventlog.core.values import event_value, to_dt_ns, to_json, to_number, to_step
from ingest.hot_path import make_log_metric, make_log_metrics
from ingest.tensors import MAX_PENDING as MAX_PENDING_TENSORS
from ingest.tensors import is_tensor, tensor_value

if TYPE_CHECKING:
    from ingest.recorder import Recorder

__all__ = ["RunWriter"]

#: `redirect(key, value, step, dt, extra)`: where a retired writer's `log_metric` calls go.
Redirect = Callable[[str, Any, Any, Any, dict[str, Any]], None]
#: `redirect_many(mapping, step, dt)`: where a retired writer's `log_metrics` calls go.
RedirectMany = Callable[[Mapping[str, Any], Any, Any], None]


class RunWriter:
    """Writes the events of one run of one experiment into a `Recorder`'s buffer.

    Args:
        recorder: the process's recorder (its buffer, flusher and back-pressure).
        experiment: the experiment's (validated) name.
        run: the run number.
        extra: extra columns put on every event of the run (`Experiment.log_extra`).
    """

    def __init__(self, recorder: Recorder, experiment: str, run: int, extra: Mapping[str, str] | None = None) -> None:
        self.experiment = experiment
        self.run = run
        self._recorder = recorder
        self._buffer = recorder.buffer
        self._extra: dict[str, str] = dict(extra or {})
        self._codes: dict[str, int] = {}  # metric key -> slot, read by the hot-path closure
        # the keys of a log_metrics mapping -> (keyset id, a packer of its values as float64 bytes,
        # the block rows at which the buffer counts as full for mappings of that size)
        self._keysets: dict[tuple[str, ...], tuple[int, Callable[..., bytes], int]] = {}
        self._redirect: Redirect | None = None
        self._redirect_many: RedirectMany | None = None
        self._params: dict[str, tuple[float | None, str | None]] = {}  # params are immutable in a run
        self.log_metric = make_log_metric(
            self._buffer.scalar_rows, self._codes, recorder.threshold, self._log_metric_slow, recorder.full
        )
        #: `log_metrics(mapping, step=None, dt=None)`: every value of `mapping` as a metric at one
        #: step, as one block row. Raises TypeError (a value is not a number; the others were
        #: logged, or the step is not an int), InvalidNameError (a key breaks a naming rule) and
        #: BackgroundError (an earlier flush failed).
        self.log_metrics = make_log_metrics(
            self._buffer.block_rows, self._keysets, self._log_metrics_slow, recorder.full
        )
        recorder.track_writer(self)

    def __repr__(self) -> str:
        state = "retired" if self._redirect is not None else "active"
        return f"RunWriter({self.experiment!r}, run={self.run}, {state})"

    # -- state changes ------------------------------------------------------------------------------
    def set_extra(self, extra: Mapping[str, str]) -> None:
        """Put `extra` (replacing the previous extras) on every later event of the run."""
        self._extra = dict(extra)
        self.divert_to_slow_path()  # registered slots carry the old extras

    def divert_to_slow_path(self) -> None:
        """Make the next `log_metric`/`log_metrics` calls take the slow path (which also raises
        a background error): the fast paths only run for keys the slow path registered."""
        self._codes.clear()
        self._keysets.clear()

    def retire(self, redirect: Redirect, redirect_many: RedirectMany) -> None:
        """End this writer: every later `log_metric` call through it goes to `redirect`, and every
        `log_metrics` call to `redirect_many` (user code may hold either closure past its run)."""
        self._redirect = redirect
        self._redirect_many = redirect_many
        self.divert_to_slow_path()

    # -- logging ------------------------------------------------------------------------------------
    def log_event(
        self, event: str, key: str, value: Any, step: Any = None, dt: Any = None, extra: Mapping[str, Any] | None = None
    ) -> None:
        """Log one event of any kind: numbers go into `value`, anything else as JSON into `value_json`.

        A `param` is immutable within the run (MLflow's rule): logging its key again with the same
        value is a no-op, with another value an error. An integer param also keeps its JSON text
        (`value_json` "100"), so that `runs()` shows it as an integer.

        Raises:
            TypeError: the value is not JSON-encodable, or the step is not an int.
            ValueError: a param logged again with a different value.
            InvalidNameError: the key or an extra's name breaks a naming rule.
            BackgroundError: an earlier flush failed (the event itself was kept).
        """
        validate_key(key)
        number, text = event_value(value, key=key, event=event)
        if event == "param" and not self._first_time_param(key, number, text):
            return
        self._append_generic(event, key, number, text, to_step(step), to_dt_ns(dt), _strings(extra))
        self._recorder.raise_unreported_error()

    def heartbeat(self) -> None:
        """Log a `system`/`heartbeat` event now (the flusher's thread calls it; it never raises)."""
        slot = self._buffer.slot(self.experiment, self.run, "system", "heartbeat", self._extra)
        self._buffer.generic_rows.append((slot, None, None, None, time.time_ns()))

    # -- internals ----------------------------------------------------------------------------------
    def _first_time_param(self, key: str, number: float | None, text: str | None) -> bool:
        """True the first time `key` is logged as a param in this run, False for the same value again.

        Raises:
            ValueError: the param was logged before with another value.
        """
        before = self._params.get(key)
        if before is None:
            self._params[key] = (number, text)
            return True
        if before == (number, text) or (number is not None and before[0] is not None and math.isnan(number) and math.isnan(before[0])):
            return False
        shown = before[1] if before[0] is None else before[0]
        raise ValueError(
            f"param {key!r} of run {self.run} of experiment {self.experiment!r} is already {shown}; params do not "
            "change within a run: log a value that changes as a metric, or start a new run"
        )

    def _log_metric_slow(self, key: str, value: Any, step: Any, dt: Any, extra: dict[str, Any]) -> None:
        """Everything the hot-path closure does not do: validation, registration, errors."""
        if self._redirect is not None:
            self._redirect(key, value, step, dt, extra)
            return
        validate_key(key)
        # A 0-d tensor on an accelerator is kept as it is, for the flusher to convert: float()
        # here would wait for the device's queue (ingest.tensors). Plain rows only, and a bounded number.
        deferred = False
        if is_tensor(value):
            value, deferred = tensor_value(value, defer=not extra and dt is None and self._buffer.deferred < MAX_PENDING_TENSORS)
        number: Any = value if deferred else to_number(value, key=key)
        step = to_step(step)
        if extra or dt is not None:
            self._append_generic("metric", key, number, None, step, to_dt_ns(dt), _strings(extra))
        else:
            code = self._codes.get(key)
            if code is None:
                code = self._codes[key] = self._slot("metric", key)
            if self._buffer.pending() < self._recorder.threshold or self._recorder.full():
                self._buffer.add_metrics([(code, number, step, time.time_ns())])
                if deferred:
                    self._buffer.deferred += 1
        self._recorder.raise_unreported_error()

    def _log_metrics_slow(self, mapping: Mapping[str, Any], step: Any, dt: Any) -> None:
        """Everything the `log_metrics` closure does not do: validation, registration, errors."""
        if self._redirect_many is not None:
            self._redirect_many(mapping, step, dt)
            return
        self._recorder.raise_unreported_error()
        step = to_step(step)
        good: dict[str, float] = {}
        bad: TypeError | None = None
        for key, value in mapping.items():
            validate_key(key)
            try:
                good[key] = to_number(value, key=key)
            except TypeError as exc:
                bad = bad or exc
        if dt is not None or bad is not None:
            when = to_dt_ns(dt)
            for key, number in good.items():
                self._append_generic("metric", key, number, None, step, when, None)
        else:
            keys = tuple(mapping)
            slots = tuple(self._slot("metric", key) for key in keys)
            pack = struct.Struct(f"{len(keys)}d").pack
            self._keysets[keys] = (self._buffer.keyset(slots), pack, self._recorder.threshold // max(1, len(keys)))
            self._buffer.block_rows.append((self._keysets[keys][0], pack(*good.values()), step, time.time_ns()))
        if bad is not None:
            raise bad

    def _slot(self, event: str, key: str, extra: dict[str, str] | None = None) -> int:
        merged = {**self._extra, **extra} if extra else self._extra
        return self._buffer.slot(self.experiment, self.run, event, key, merged)

    def _append_generic(
        self, event: str, key: str, number: float | None, text: str | None, step: int | None, when: int, extra: dict[str, str] | None
    ) -> None:
        slot = self._slot(event, key)  # per-event extras ride in the row: a slot per value would never be freed
        if extra:
            self._buffer.generic_rows.append((slot, number, text, step, when, tuple(extra.items())))
        else:
            self._buffer.generic_rows.append((slot, number, text, step, when))
        if len(self._buffer.generic_rows) >= self._recorder.threshold:
            self._recorder.full()


def _strings(extra: Mapping[str, Any] | None) -> dict[str, str] | None:
    """Per-event extras as strings (JSON for anything but a string), their names validated."""
    if not extra:
        return None
    return {validate_extra_name(k): check_text(v, f"extra {k!r}") if isinstance(v, str) else to_json(v, key=k) for k, v in extra.items()}
