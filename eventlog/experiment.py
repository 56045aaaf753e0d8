"""`Experiment`: the user's handle on one experiment, its runs, and everything logged into them.

It coordinates; it does not contain the storage protocol, the flusher or the query code. Writes go
through the process's `Recorder` (ingest/), reads through `query/`. Names and semantics follow
omega-ml's experiment API (DESIGN §8, §10).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from eventlog.core.artifact_refs import check_reference
from eventlog.core.artifacts import store_artifact
from eventlog.core.identity import job_id
from eventlog.core.names import check_text, validate_experiment, validate_extra_name, validate_kind
from eventlog.core.values import to_json
from eventlog.errors import NoActiveRunError
from eventlog.experiment_reads import ExperimentReads
from eventlog.system_info import system_info
from ingest.env_tracking import log_tracked_environment
from ingest.run_writer import RunWriter

if TYPE_CHECKING:
    from eventlog.log import Log  # log.py imports this module: a runtime import would be circular

__all__ = ["Experiment"]

Status = Literal["PENDING", "STARTED", "STOPPED"]


class Experiment(ExperimentReads):
    """A handle on one experiment; `with exp:` (or `start()`) begins a new run.

    Create it with `eventlog.open(uri).experiment(name)` or `eventlog.experiment(name)`.

    Raises:
        InvalidNameError: the name breaks a naming rule (see `eventlog.core.names`).
    """

    _active_stack: ClassVar[list[Experiment]] = []  # runs started in this process, innermost last

    def __init__(self, log: Log, name: str) -> None:
        self.name = validate_experiment(name)
        self._log = log
        self._recorder = log.recorder
        self._run: int | None = None
        self._writer: RunWriter | None = None  # the active run's writer (ingest/), None between runs
        self._reopened = False  # the active run was reopened by use(): `with` continues it
        self._started_ns = 0
        self._extra: dict[str, str] = {}
        self._extra_set_in_run = False  # extras set before any run apply to the next one

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
        job = job_id()
        if run is None:
            run = self._log.claim_run(self.name, job)
        self._set_run(run)
        self._started_ns = time.time_ns()
        self._log_generic("start", "run", run, extra={"job": job} if job else None)
        self._track_active()
        return run

    def _track_active(self) -> None:
        """Heartbeats for the run, and the innermost run for `track_this`."""
        self._log.track_active(self)
        Experiment._active_stack.append(self)

    @classmethod
    def innermost_active(cls) -> Experiment | None:
        """The most recently started experiment handle of this process whose run is still active."""
        for handle in reversed(cls._active_stack):
            if handle._writer is not None and not handle._recorder.closed:  # a closed log cannot log any more
                return handle
        return None

    def stop(self, *, status: str = "completed", error: BaseException | None = None) -> None:
        """Log the run's `stop` event (status, duration, and the error's type and message) and flush.

        A log opened with `flush_on_stop=False` does not flush here unless the run failed: the
        run reaches the store with the next periodic flush (a sweep of many short runs).

        Raises:
            NoActiveRunError: no run is active.
        """
        writer = self._writer_or_raise()
        info: dict[str, Any] = {"status": "failed" if error is not None else status}
        if error is not None:
            info["error"] = f"{type(error).__name__}: {error}"
            info["exception"] = type(error).__name__
            info["message"] = str(error)
            info["traceback"] = "".join(traceback.format_exception(error))[-4000:]
        duration_s = (time.time_ns() - self._started_ns) / 1e9 if self._started_ns else None
        info["duration_s"] = duration_s
        log_tracked_environment(writer)
        self._log_generic("stop", "run", info)
        self._end_writer()
        self._log.track_inactive(self)
        if self in Experiment._active_stack:
            Experiment._active_stack.remove(self)
        if self._log.policy.flush_on_stop or info["status"] == "failed":
            self.flush()

    def use(self, run: int | None = None) -> Experiment:
        """Make `run` (default: the latest started run) the current run without logging `start`.

        A `with` block on the handle then continues that run instead of starting a new one, and
        logs its `stop` at the end (MLflow's resumed run): `with exp.use(3): ...`. The run's
        latest `stop` is the one `runs()` shows.

        Returns:
            self, so that `exp.use().log_metric(...)` and `with exp.use(3):` read well.

        Raises:
            NoActiveRunError: the experiment has no run yet.
        """
        if run is None:
            run = self._log.latest_run(self.name)
            if run is None:
                raise NoActiveRunError(f"experiment {self.name!r} has no runs yet; start one with exp.start() or `with exp:`")
        self._set_run(run)
        self._reopened = True
        return self

    def status(self, run: int | None = None) -> Status:
        """PENDING (never started), STARTED (started, not stopped) or STOPPED, for `run` (default: current)."""
        run = self._run if run is None else run
        if run is None:
            return "PENDING"
        if run == self._run and self._writer is not None:
            return "STARTED"
        import query  # lazy, to save start-up time: see experiment_reads

        events = query.scan(self._log.store_for_reading(), self.name, run=run, event=["start", "stop"])
        kinds = set(events.select("event").collect()["event"].to_list())
        if "stop" in kinds:
            return "STOPPED"
        return "STARTED" if "start" in kinds else "PENDING"

    def __enter__(self) -> Experiment:
        """Start a new run, or continue the run that `use()` reopened."""
        if self._writer is not None and self._reopened:
            self._track_active()
        else:
            self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._writer is not None:
            self.stop(error=exc if exc_type is not None and not issubclass(exc_type, (GeneratorExit,)) else None)

    # -- logging ------------------------------------------------------------------------------------
    def log_metric(self, key: str, value: Any, step: int | None = None, dt: Any = None, **extra: Any) -> None:
        """Log a numeric metric. The hot path: ~0.2 µs, no I/O.

        While a run is active this method is shadowed by the run writer's closure
        (`ingest.hot_path`), which carries this docstring; this body runs only without a run.

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
        self._writer_or_raise().log_metric(key, value, step, dt, **extra)

    def log_metrics(self, mapping: Mapping[str, Any], step: int | None = None, dt: Any = None) -> None:
        """Log many metrics at one step (MLflow's `log_metrics`); ~0.1 µs per metric.

        While a run is active this method is shadowed by the run writer's closure
        (`ingest.hot_path`), which carries this docstring; this body runs only without a run.

        Raises:
            TypeError: a value is not a number (naming its key; the other values were logged),
                or the step is not an int.
            InvalidNameError: a key breaks a naming rule.
            NoActiveRunError: no run was started.
            BackgroundError: an earlier flush failed.
        """
        self._writer_or_raise().log_metrics(mapping, step, dt)

    def log_param(self, key: str, value: Any, step: int | None = None, **extra: Any) -> None:
        """Log a parameter (any JSON-able value; numbers are also stored as `value`)."""
        self._log_generic("param", key, value, step, extra=extra)

    def log_params(self, mapping: Mapping[str, Any]) -> None:
        """Log many parameters (MLflow's `log_params`)."""
        for key, value in mapping.items():
            self.log_param(key, value)

    def set_tags(self, mapping: Mapping[str, Any], *, run: int | None = None) -> None:
        """Tag the current run, or any `run`, finished ones too (MLflow's `set_tags`).

        Tags are events of kind `tag` (append-only: the latest value of a key wins); `runs()`
        shows them as `tag.<key>` columns.

        Args:
            mapping: tag names and values (any JSON value).
            run: the run to tag (default: the current run).

        Raises:
            NoActiveRunError: no `run` is given and no run is active.
            ValueError: `run` is not a positive int.
        """
        writer = self._writer_for(run)
        for key, value in mapping.items():
            writer.log_event("tag", key, value)

    def set_name(self, name: str, *, run: int | None = None) -> None:
        """Name the current run, or any `run`: the tag `name`, shown by `runs()` as `tag.name`.

        Raises:
            NoActiveRunError: no `run` is given and no run is active.
            ValueError: `run` is not a positive int.
        """
        self.set_tags({"name": name}, run=run)

    def log_event(self, event: str, key: str, value: Any, step: int | None = None, dt: Any = None, **extra: Any) -> None:
        """Log an event of any kind (`metric`, `param`, or a kind of your own)."""
        validate_kind(event)
        if event == "artifact":  # a hand-made reference is checked as the collector checks it
            check_reference(value, self.name, self._writer_or_raise().run)
        self._log_generic(event, key, value, step, dt, extra)

    def log_artifact(self, obj: Any, name: str, step: int | None = None, **extra: Any) -> None:
        """Log an artifact: JSON-able values inline, files and other objects stored beside the log."""
        writer = self._writer_or_raise()
        ref = store_artifact(self._log.store, self.name, writer.run, name, obj)
        self._log_generic("artifact", name, ref, step, extra=extra)

    def log_system(self, key: str | None = None, value: Any = None) -> None:
        """Log system information: `platform.uname()`, python, packages, CPUs, memory, GPUs; or one key/value."""
        if key is not None:
            self._log_generic("system", key, value)
            return
        self._log_generic("system", "system", system_info())

    def log_extra(self, remove: bool = False, **columns: Any) -> None:
        """Set (or with `remove=True`, remove) extra columns on every later event of this run.

        `exp.log_extra(tag="v1.5")` adds a `tag` column; `exp.log_extra(remove=True)` removes all.
        """
        if remove:
            for name in columns or list(self._extra):
                self._extra.pop(name, None)
        else:
            for name, value in columns.items():
                validate_extra_name(name)
                self._extra[name] = check_text(value, f"extra {name!r}") if isinstance(value, str) else to_json(value, key=name)
        self._extra_set_in_run = self._writer is not None
        if self._writer is not None:
            self._writer.set_extra(self._extra)

    def flush(self, timeout: float | None = None) -> None:
        """Make everything logged so far durable in the store and visible to queries.

        Raises:
            BackgroundError: writing failed (the events are kept and retried).
            TimeoutError: not done within `timeout` seconds.
        """
        self._log.flush(timeout)

    def heartbeat(self) -> None:
        """Log a `system`/`heartbeat` event into the active run (called by the flusher every 30 s)."""
        writer = self._writer
        if writer is not None:
            writer.heartbeat()

    # -- internals -----------------------------------------------------------------------------------
    def _set_run(self, run: int) -> None:
        """Make `run` the current, active run, with a new writer (the previous one is retired)."""
        if not isinstance(run, int) or isinstance(run, bool) or run < 1:
            raise ValueError(f"run must be a positive int, got {run!r}")
        self._end_writer()
        self._run = run
        self._writer = RunWriter(self._recorder, self.name, run, self._extra)
        # The hot path: the writer's closures replace this instance's `log_metric` and
        # `log_metrics` (a closure costs ~0.15 µs less per call than a method, and log_metrics
        # skips two method calls); each carries its method's documentation.
        for name in ("log_metric", "log_metrics"):
            closure = getattr(self._writer, name)
            closure.__doc__ = getattr(Experiment, name).__doc__
            closure.__name__ = closure.__qualname__ = name
            setattr(self, name, closure)

    def _end_writer(self) -> None:
        """Retire the active run's writer: later calls through a held `log_metric` go to the handle."""
        writer, self._writer = self._writer, None
        self._reopened = False
        self.__dict__.pop("log_metric", None)  # the class's methods again: they raise NoActiveRunError
        self.__dict__.pop("log_metrics", None)
        if writer is not None:
            writer.retire(self._log_metric_through_handle, self._log_metrics_through_handle)

    def _log_metric_through_handle(self, key: str, value: Any, step: Any, dt: Any, extra: dict[str, Any]) -> None:
        self.log_metric(key, value, step, dt, **extra)

    def _log_metrics_through_handle(self, mapping: Mapping[str, Any], step: Any, dt: Any) -> None:
        self.log_metrics(mapping, step, dt)

    def _writer_for(self, run: int | None) -> RunWriter:
        """The active run's writer, or a writer for another (possibly finished) `run`, without extras."""
        if run is None or (self._writer is not None and run == self._writer.run):
            return self._writer_or_raise()
        if not isinstance(run, int) or isinstance(run, bool) or run < 1:
            raise ValueError(f"run must be a positive int, got {run!r}")
        return RunWriter(self._recorder, self.name, run)

    def _writer_or_raise(self) -> RunWriter:
        writer = self._writer
        if writer is None:
            what = "has no started run" if self._run is None else f"run {self._run} was stopped"
            raise NoActiveRunError(
                f"experiment {self.name!r} {what}; log inside `with exp:`, or call exp.start() "
                "(a new run) or exp.use() (the latest run) first"
            )
        return writer

    def _log_generic(
        self, event: str, key: str, value: Any, step: Any = None, dt: Any = None, extra: Mapping[str, Any] | None = None
    ) -> None:
        self._writer_or_raise().log_event(event, key, value, step, dt, extra)
