"""Optuna: `EventLogOptunaCallback`, a study callback that logs every finished trial as a run.

```python
import optuna
from eventlog.integrations.optuna import EventLogOptunaCallback

study = optuna.create_study(direction="minimize")
study.optimize(objective, n_trials=20, callbacks=[EventLogOptunaCallback("tuning")])
# then: eventlog compare tuning value --mode min      (the best trial first, with its params)
```

Each trial becomes one run: its params as params; the objective's value as the metric `value`
(`value_0`, `value_1`, ... for several objectives, or the names given as `metric_names`); the
reported intermediate values as the metric `intermediate_value` at their steps; the trial's number,
the study's name and direction, and the trial's user attributes as tags; its duration as the metric
`trial_duration_s`; and its state as the status of the run's `stop` (`completed`, `pruned`,
`failed`). Optuna calls the callback after a trial ends, so the run's own start and stop times
are those of the logging, not of the trial. Optuna is imported when this module is, never by
`import eventlog`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from eventlog.integrations._extra import framework_missing

try:
    import optuna
except ImportError as exc:
    raise framework_missing("optuna", "optuna", exc) from exc

from eventlog.integrations._params import plain_params, plain_value
from eventlog.integrations._runs import IntegrationRun

if TYPE_CHECKING:
    from eventlog.log import Log

__all__ = ["EventLogOptunaCallback"]

#: A trial's state as the status of its run's `stop` event.
_STATUS = {"COMPLETE": "completed", "PRUNED": "pruned", "FAIL": "failed"}


class EventLogOptunaCallback:
    """Log each finished trial of an Optuna study as one run, so that `compare` ranks the trials.

    Args:
        experiment: the experiment name (default: the study's name).
        uri: the store (None: $EVENTLOG_URI, else ./.eventlog); ignored when `log` is given.
        log: an open `eventlog.Log` to write through (default: one of the callback's own, opened
            at the first trial and closed by `close()` or at exit).
        metric_names: the names of the objective values (default `value`, or `value_0`,
            `value_1`, ... for several objectives).

    Raises:
        InvalidNameError: the experiment name breaks a naming rule (at the first trial when the
            study's name is used).

    Example:
        >>> study.optimize(objective, n_trials=20, callbacks=[EventLogOptunaCallback("tuning")])  # doctest: +SKIP
    """

    def __init__(
        self,
        experiment: str | None = None,
        *,
        uri: str | None = None,
        log: Log | None = None,
        metric_names: str | Sequence[str] | None = None,
    ) -> None:
        if experiment is not None:
            IntegrationRun(experiment)  # checks the name now
        self.experiment = experiment
        self.uri = uri
        self._log = log
        self._own_log = log is None
        self.metric_names = [metric_names] if isinstance(metric_names, str) else None if metric_names is None else list(metric_names)
        self.runs: dict[int, int] = {}  # trial number -> run number
        self._lock = threading.Lock()  # trials of `n_jobs > 1` finish in several threads

    def __call__(self, study: optuna.study.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Log the finished `trial` as a new run (Optuna calls this after each trial)."""
        with self._lock:
            if self._log is None:
                import eventlog

                self._log = eventlog.open(self.uri)
            run = IntegrationRun(self.experiment or study.study_name, log=self._log)
            experiment = run.experiment()
            experiment.log_params(plain_params(trial.params))
            tags: dict[str, Any] = {"trial": trial.number, "study": study.study_name}
            tags["direction"] = ",".join(d.name.lower() for d in study.directions)
            tags.update({f"user_attrs/{key}": plain_value(value) for key, value in trial.user_attrs.items()})
            experiment.set_tags(tags)
            if trial.values is not None:
                experiment.log_metrics(dict(zip(self._names(len(trial.values)), trial.values)))
            for step, value in sorted(trial.intermediate_values.items()):
                experiment.log_metric("intermediate_value", value, step=step)
            if trial.duration is not None:
                experiment.log_metric("trial_duration_s", trial.duration.total_seconds())
            assert run.run is not None
            self.runs[trial.number] = run.run
            run.stop(_STATUS.get(trial.state.name, trial.state.name.lower()))

    def close(self) -> None:
        """Flush and close the callback's own log (done at exit too); a later trial opens a new one."""
        with self._lock:
            if self._own_log and self._log is not None:
                self._log.close()
                self._log = None

    def _names(self, count: int) -> list[str]:
        if self.metric_names is not None:
            if len(self.metric_names) != count:
                raise ValueError(f"metric_names has {len(self.metric_names)} names, but the trial has {count} objective values")
            return self.metric_names
        return ["value"] if count == 1 else [f"value_{i}" for i in range(count)]
