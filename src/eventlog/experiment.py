"""`Experiment`: the user's handle on one experiment, its runs, and everything logged into them.

It coordinates; it does not contain the storage protocol, the flusher or the query code. Writes go
through the process's `Recorder` (ingest/), reads through `query/`. Names and semantics follow
omega-ml's experiment API (DESIGN §8, §10).
"""

from __future__ import annotations

import struct
import time
import traceback
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from eventlog.errors import NoActiveRunError
from eventlog.experiment_reads import ExperimentReads
from eventlog.identity import job_id
from eventlog.names import validate_experiment, validate_key
from eventlog.values import numeric_or_none, to_dt_ns, to_json, to_number, to_step

if TYPE_CHECKING:

    from eventlog.log import Log

__all__ = ["Experiment"]

Status = Literal["PENDING", "STARTED", "STOPPED"]


class Experiment(ExperimentReads):
    """A handle on one experiment; `with exp:` (or `start()`) begins a new run.

    Create it with `eventlog.open(uri).experiment(name)` or `eventlog.experiment(name)`.

    Raises:
        InvalidNameError: the name breaks a naming rule (see `eventlog.names`).
    """

    _active_stack: ClassVar[list[Experiment]] = []  # runs started in this process, innermost last

    def __init__(self, log: Log, name: str) -> None:
        self.name = validate_experiment(name)
        self._log = log
        self._recorder = log.recorder
        self._buffer = log.recorder.buffer
        self._run: int | None = None
        self._active = False
        self._started_ns = 0
        self._extra: dict[str, str] = {}
        self._extra_set_in_run = False  # extras set before any run apply to the next one
        self._codes: dict[str, int] = {}
        # keys of a log_metrics mapping -> (keyset id, a packer of its values as float64 bytes)
        self._keysets: dict[tuple[str, ...], tuple[int, Callable[..., bytes]]] = {}
        self._reset_fast_path()

    def __repr__(self) -> str:
        return f"Experiment({self.name!r}, run={self._run}, store={self._log.store.uri!r})"

    # -- runs ---------------------------------------------------------------------------------------
    @property
    def run(self) -> int | None:
        """The current run number, or None before the first `start()`/`use()`."""
        return self._run

    def start(self, run: int | None = None) -> int:
        """Start a run and log its `start` event; returns the run number.

        Args:
            run: None claims the next free number (or, in a distributed job, the number all ranks
                share; see DESIGN §5); an int (re)starts that run number explicitly.
        """
        self._recorder.check()
        if self._extra_set_in_run:  # extras set during a run belong to that run only
            self._extra = {}
            self._extra_set_in_run = False
        if run is None:
            run = self._log.claim_run(self.name, job_id())
        self._set_run(run, active=True)
        self._started_ns = time.time_ns()
        self._log_generic("start", "run", run, None, None, {"job": job_id()} if job_id() else {})
        self._log.track_active(self)
        Experiment._active_stack.append(self)
        return run

    @classmethod
    def innermost_active(cls) -> Experiment | None:
        """The most recently started experiment handle of this process whose run is still active."""
        for handle in reversed(cls._active_stack):
            if handle._active and not handle._recorder.closed:  # a closed log cannot log any more
                return handle
        return None

    def stop(self, *, status: str = "completed", error: BaseException | None = None) -> None:
        """Log the run's `stop` event (status, duration, and the error's type and message) and flush.

        Raises:
            NoActiveRunError: no run is active.
        """
        self._require_run()
        info: dict[str, Any] = {"status": "failed" if error is not None else status}
        if error is not None:
            info["error"] = f"{type(error).__name__}: {error}"
            info["exception"] = type(error).__name__
            info["message"] = str(error)
            info["traceback"] = "".join(traceback.format_exception(error))[-4000:]
        duration_s = (time.time_ns() - self._started_ns) / 1e9 if self._started_ns else None
        info["duration_s"] = duration_s
        self._log.before_stop(self)
        self._log_generic("stop", "run", info, None, None, {})
        self._active = False
        self._log.track_inactive(self)
        if self in Experiment._active_stack:
            Experiment._active_stack.remove(self)
        self._reset_fast_path()
        self.flush()

    def use(self, run: int | None = None) -> Experiment:
        """Make `run` (default: the latest started run) the current run without logging `start`.

        Returns:
            self, so that `exp.use().log_metric(...)` reads well.

        Raises:
            NoActiveRunError: the experiment has no run yet.
        """
        if run is None:
            run = self._log.latest_run(self.name)
            if run is None:
                raise NoActiveRunError(f"experiment {self.name!r} has no runs yet; start one with exp.start() or `with exp:`")
        self._set_run(run, active=True)
        return self

    def status(self, run: int | None = None) -> Status:
        """PENDING (never started), STARTED (started, not stopped) or STOPPED, for `run` (default: current)."""
        run = self._run if run is None else run
        if run is None:
            return "PENDING"
        if run == self._run and self._active:
            return "STARTED"
        import query

        events = query.scan(self._log.store, self.name, run=run, event=["start", "stop"])
        kinds = set(events.select("event").collect()["event"].to_list())
        if "stop" in kinds:
            return "STOPPED"
        return "STARTED" if "start" in kinds else "PENDING"

    def __enter__(self) -> Experiment:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._active:
            self.stop(error=exc if exc_type is not None and not issubclass(exc_type, (GeneratorExit,)) else None)

    # -- logging ------------------------------------------------------------------------------------
    def log_metric(self, key: str, value: Any, step: int | None = None, dt: Any = None, **extra: Any) -> None:
        """Log a numeric metric. The hot path: ~0.5 µs, no I/O (replaced per run by a closure).

        Args:
            key: the metric name, e.g. `loss` or `train/acc`.
            value: int, float, numpy scalar or 0-d tensor; NaN and inf are kept.
            step: the training step, or None.
            dt: when it happened (default now): datetime, int ns or float seconds.
            **extra: extra string columns for this event only.

        Raises:
            TypeError: the value is not a number, or the step is not an int.
            InvalidNameError: the key is empty, too long or has control characters.
            NoActiveRunError: no run was started.
            BackgroundError: an earlier flush failed (the event itself was kept).
        """
        self._log_metric_slow(key, value, step, dt, extra)

    def log_metrics(self, mapping: Mapping[str, Any], step: int | None = None, dt: Any = None) -> None:
        """Log many metrics at one step (MLflow's `log_metrics`); ~0.1 µs per metric.

        A value that is not a number raises TypeError naming its key, after the other values
        of the mapping were logged.
        """
        run = self._require_run()
        keys = tuple(mapping)
        known = self._keysets.get(keys)
        if known is None or dt is not None or (step is not None and type(step) is not int):
            self._log_metrics_slow(mapping, step, dt, run)
            return
        keyset, pack = known
        try:
            # struct packing converts and checks all the values in C: 0.47 µs for 20 values,
            # where array("d", values) took 1.2-1.8 µs and a separate heap buffer per call.
            values = pack(*mapping.values())
        except (struct.error, TypeError):
            self._log_metrics_slow(mapping, step, dt, run)
            return
        if len(self._buffer.block_rows) * len(keys) >= self._recorder.threshold and not self._recorder.full():
            return
        self._buffer.block_rows.append((keyset, values, step, time.time_ns()))

    def _log_metrics_slow(self, mapping: Mapping[str, Any], step: Any, dt: Any, run: int) -> None:
        self._raise_background_error()
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
            keyset, pack = self._keysets[keys] = (self._buffer.keyset(slots), struct.Struct(f"{len(keys)}d").pack)
            self._buffer.block_rows.append((keyset, pack(*good.values()), step, time.time_ns()))
        if bad is not None:
            raise bad

    def log_param(self, key: str, value: Any, step: int | None = None, **extra: Any) -> None:
        """Log a parameter (any JSON-able value; numbers are also stored as `value`)."""
        self._log_generic("param", key, value, step, None, extra)

    def log_params(self, mapping: Mapping[str, Any]) -> None:
        """Log many parameters (MLflow's `log_params`)."""
        for key, value in mapping.items():
            self.log_param(key, value)

    def set_tags(self, mapping: Mapping[str, Any]) -> None:
        """Log tags (MLflow's `set_tags`) as events of kind `tag`."""
        for key, value in mapping.items():
            self._log_generic("tag", key, value, None, None, {})

    def log_event(self, event: str, key: str, value: Any, step: int | None = None, dt: Any = None, **extra: Any) -> None:
        """Log an event of any kind (`metric`, `param`, or a kind of your own)."""
        if not isinstance(event, str) or not event:
            raise ValueError(f"event kind must be a non-empty string, got {event!r}")
        self._log_generic(event, key, value, step, dt, extra)

    def log_artifact(self, obj: Any, name: str, step: int | None = None, **extra: Any) -> None:
        """Log an artifact: JSON-able values inline, files and other objects stored beside the log."""
        from eventlog.artifacts import store_artifact

        run = self._require_run()
        ref = store_artifact(self._log.store, self.name, run, name, obj)
        self._log_generic("artifact", name, ref, step, None, extra)

    def log_system(self, key: str | None = None, value: Any = None) -> None:
        """Log system information: `platform.uname()`, python, packages, CPUs, memory, GPUs; or one key/value."""
        if key is not None:
            self._log_generic("system", key, value, None, None, {})
            return
        from eventlog.system_info import system_info

        self._log_generic("system", "system", system_info(), None, None, {})

    def log_extra(self, remove: bool = False, **columns: Any) -> None:
        """Set (or with `remove=True`, remove) extra columns on every later event of this run.

        `exp.log_extra(tag="v1.5")` adds a `tag` column; `exp.log_extra(remove=True)` removes all.
        """
        if remove:
            for name in columns or list(self._extra):
                self._extra.pop(name, None)
        else:
            for name, value in columns.items():
                validate_key(name)
                self._extra[name] = value if isinstance(value, str) else to_json(value, key=name)
        self._extra_set_in_run = self._active
        self._reset_fast_path()

    def flush(self, timeout: float | None = None) -> None:
        """Make everything logged so far durable in the store and visible to queries.

        Raises:
            BackgroundError: writing failed (the events are kept and retried).
            TimeoutError: not done within `timeout` seconds.
        """
        self._recorder.flush(timeout)

    def heartbeat(self) -> None:
        """Log a `system`/`heartbeat` event into the active run (called by the flusher every 30 s)."""
        run = self._run
        if run is None or not self._active:
            return
        slot = self._buffer.slot(self.name, run, "system", "heartbeat", self._extra)
        self._buffer.generic_rows.append((slot, None, None, None, time.time_ns()))

    def divert_to_slow_path(self) -> None:
        """Make the next `log_metric` call take the slow path (which raises background errors)."""
        self._codes.clear()

    # -- internals -----------------------------------------------------------------------------------
    def _reset_fast_path(self) -> None:
        """Send the current closure's calls to the slow path, then install a fresh one for the current run."""
        from ingest.hot_path import make_log_metric  # not at module level: see eventlog/log.py

        self._codes.clear()
        self._codes = {}
        self._keysets = {}
        self.log_metric = make_log_metric(  # type: ignore[method-assign]
            self._buffer.scalar_rows, self._codes, self._recorder.threshold, self._log_metric_slow, self._recorder.full
        )

    def _set_run(self, run: int, *, active: bool) -> None:
        if not isinstance(run, int) or isinstance(run, bool) or run < 1:
            raise ValueError(f"run must be a positive int, got {run!r}")
        self._run = run
        self._active = active
        self._reset_fast_path()

    def _require_run(self) -> int:
        if self._run is None or not self._active:
            what = "has no started run" if self._run is None else f"run {self._run} was stopped"
            raise NoActiveRunError(
                f"experiment {self.name!r} {what}; log inside `with exp:`, or call exp.start() "
                "(a new run) or exp.use() (the latest run) first"
            )
        return self._run

    def _raise_background_error(self) -> None:
        error = self._log.take_unreported_error()
        if error is not None:
            raise self._log.recorder.background_error(error) from error

    def _slot(self, event: str, key: str, extra: dict[str, str] | None = None) -> int:
        run = self._require_run()
        merged = {**self._extra, **extra} if extra else self._extra
        return self._buffer.slot(self.name, run, event, key, merged)

    def _log_metric_slow(self, key: str, value: Any, step: Any, dt: Any, extra: dict[str, Any]) -> None:
        self._require_run()
        validate_key(key)
        number = to_number(value, key=key)
        step = to_step(step)
        if extra or dt is not None:
            self._append_generic("metric", key, number, None, step, to_dt_ns(dt), _strings(extra))
        else:
            code = self._codes.get(key)
            if code is None:
                code = self._codes[key] = self._slot("metric", key)
            if self._buffer.pending() < self._recorder.threshold or self._recorder.full():
                self._buffer.add_metrics([(code, number, step, time.time_ns())])
        self._raise_background_error()

    def _log_generic(self, event: str, key: str, value: Any, step: Any, dt: Any, extra: dict[str, Any]) -> None:
        self._require_run()
        validate_key(key)
        number = numeric_or_none(value)
        text = None if number is not None else to_json(value, key=key)
        self._append_generic(event, key, number, text, to_step(step), to_dt_ns(dt), _strings(extra))
        self._raise_background_error()

    def _append_generic(
        self, event: str, key: str, number: float | None, text: str | None, step: int | None, when: int, extra: dict[str, str] | None
    ) -> None:
        slot = self._slot(event, key, extra)
        self._buffer.generic_rows.append((slot, number, text, step, when))
        if len(self._buffer.generic_rows) >= self._recorder.threshold:
            self._recorder.full()


def _strings(extra: dict[str, Any]) -> dict[str, str] | None:
    if not extra:
        return None
    return {validate_key(k): v if isinstance(v, str) else to_json(v, key=k) for k, v in extra.items()}
