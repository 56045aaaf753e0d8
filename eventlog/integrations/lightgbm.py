"""LightGBM: `EventLogLightGBMCallback`, a training callback logging every iteration's evaluations.

```python
import lightgbm as lgb
from eventlog.integrations.lightgbm import EventLogLightGBMCallback

booster = lgb.train(params, train_set, 50, valid_sets=[valid_set], valid_names=["valid"],
                    callbacks=[EventLogLightGBMCallback("houses")])
```

The params LightGBM trains with are logged at the first iteration; each iteration's evaluation
results as metrics `<data>-<metric>` (`valid-l2`) at the iteration number (`lgb.cv` adds
`<data>-<metric>-std`); the run's `stop` after the last planned iteration. LightGBM has no
end-of-training hook: when early stopping ends training sooner, the run stops when the callback is
used for the next training or `finish()` is called. LightGBM is imported when this module is,
never by `import eventlog`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eventlog.integrations._extra import framework_missing

try:
    import lightgbm
except ImportError as exc:
    raise framework_missing("lightgbm", "lightgbm", exc) from exc

from eventlog.integrations._evals import metric_values
from eventlog.integrations._params import plain_params
from eventlog.integrations._runs import IntegrationRun, RunHandle

if TYPE_CHECKING:
    from eventlog.log import Log

__all__ = ["EventLogLightGBMCallback"]

# LightGBM runs its callbacks in `order`: log_evaluation 10, record_evaluation 20, early_stopping 30.
# Before early stopping, so that the iteration it stops at is logged too.
_ORDER = 25


class EventLogLightGBMCallback(RunHandle):
    """Log a LightGBM training as one run: its params and each iteration's evaluation results.

    Args:
        experiment: the experiment name.
        uri: the store (None: $EVENTLOG_URI, else ./.eventlog); ignored when `log` is given.
        log: an open `eventlog.Log` to write through (default: one of the callback's own).

    Raises:
        InvalidNameError: the experiment name breaks a naming rule.

    Example:
        >>> lgb.train(params, train_set, valid_sets=[valid_set], callbacks=[EventLogLightGBMCallback("houses")])  # doctest: +SKIP
    """

    order = _ORDER
    before_iteration = False

    def __init__(self, experiment: str = "lightgbm", *, uri: str | None = None, log: Log | None = None) -> None:
        self._settings: dict[str, Any] = {"experiment": experiment, "uri": uri, "log": log}
        self._run = IntegrationRun(experiment, uri=uri, log=log)

    def __call__(self, env: lightgbm.callback.CallbackEnv) -> None:
        """Log one iteration (LightGBM calls this after each); start the run at the first."""
        if env.iteration == env.begin_iteration:
            self.finish()  # the previous training with this callback, if early stopping ended it
            if self._run.run is not None:
                self._run = IntegrationRun(**self._settings)
            self.experiment.log_params(plain_params(dict(env.params)))
        values: dict[str, float] = {}
        for result in env.evaluation_result_list or ():
            data, metric, value = result[0], result[1], result[2]
            values.update(metric_values(f"{data}-{metric}", (value, result[4]) if len(result) > 4 else value))
        if values:
            self.experiment.log_metrics(values, step=env.iteration)
        if env.iteration == env.end_iteration - 1:
            self.finish()

    def finish(self, status: str = "completed") -> None:
        """Stop the run with `status` (done by itself after the last planned iteration)."""
        self._run.stop(status)
