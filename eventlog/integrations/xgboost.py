"""XGBoost: `EventLogXGBoostCallback`, a `TrainingCallback` logging every iteration's evaluations.

```python
import xgboost as xgb
from eventlog.integrations.xgboost import EventLogXGBoostCallback

params = {"max_depth": 3, "eta": 0.1, "objective": "reg:squarederror"}
xgb.train(params, dtrain, 50, evals=[(dtrain, "train"), (dvalid, "valid")],
          callbacks=[EventLogXGBoostCallback("houses", params=params)])
```

Each iteration's evaluation results are logged as metrics `<data>-<metric>` (`valid-rmse`, the
names XGBoost prints) at the iteration number; `xgb.cv` adds `<data>-<metric>-std`. The params
given to the callback are logged at the start; at the end the best iteration and score (with early
stopping), optionally the model as an artifact, and the run's `stop`. XGBoost is imported when this module is, never by
`import eventlog`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from eventlog.integrations._extra import framework_missing

try:
    from xgboost.callback import TrainingCallback
except ImportError as exc:
    raise framework_missing("xgboost", "xgboost", exc) from exc

from eventlog.integrations._evals import metric_values
from eventlog.integrations._params import plain_params
from eventlog.integrations._runs import IntegrationRun, RunHandle

if TYPE_CHECKING:
    from eventlog.log import Log

__all__ = ["EventLogXGBoostCallback"]


class EventLogXGBoostCallback(TrainingCallback, RunHandle):  # type: ignore[misc]
    """Log an XGBoost training as one run: params, each iteration's evaluations, the best iteration.

    Args:
        experiment: the experiment name.
        uri: the store (None: $EVENTLOG_URI, else ./.eventlog); ignored when `log` is given.
        log: an open `eventlog.Log` to write through (default: one of the callback's own).
        params: the training params to log (pass the dict given to `xgb.train`).
        log_model: log the trained model (XGBoost's JSON format) as the artifact `model`.

    Raises:
        InvalidNameError: the experiment name breaks a naming rule.

    Example:
        >>> xgb.train(params, dtrain, evals=[(dvalid, "valid")],
        ...           callbacks=[EventLogXGBoostCallback("houses", params=params)])  # doctest: +SKIP
    """

    def __init__(
        self,
        experiment: str = "xgboost",
        *,
        uri: str | None = None,
        log: Log | None = None,
        params: Mapping[str, Any] | None = None,
        log_model: bool = False,
    ) -> None:
        super().__init__()
        self._settings: dict[str, Any] = {"experiment": experiment, "uri": uri, "log": log}
        self._run = IntegrationRun(experiment, uri=uri, log=log)
        self.params = dict(params or {})
        self.log_model = log_model

    def before_training(self, model: Any) -> Any:
        """Start a new run and log the params."""
        if self._run.run is not None:  # a second training with this callback: a new run
            self._run = IntegrationRun(**self._settings)
        self.experiment.log_params(plain_params(self.params))
        return model

    def after_iteration(self, model: Any, epoch: int, evals_log: Mapping[str, Mapping[str, Any]]) -> bool:
        """Log this iteration's evaluation results at step `epoch`; never asks to stop training."""
        values: dict[str, float] = {}
        for data, metrics in evals_log.items():
            for metric, history in metrics.items():
                if len(history):
                    values.update(metric_values(f"{data}-{metric}", history[-1]))
        if values:
            self.experiment.log_metrics(values, step=epoch)
        return False

    def after_training(self, model: Any) -> Any:
        """Log the best iteration and score (when early stopping set them), the model if asked, then stop."""
        experiment = self.experiment
        summary = {f"xgboost/{key}": value for key in ("best_iteration", "best_score") if (value := _number(model, key)) is not None}
        if summary:
            experiment.log_metrics(summary)
        if self.log_model and hasattr(model, "save_model"):
            with tempfile.TemporaryDirectory() as directory:
                path = os.path.join(directory, "model.json")
                model.save_model(path)
                experiment.log_artifact(path, "model")
        self._run.stop("completed")
        return model


def _number(model: Any, attribute: str) -> float | None:
    """`model.<attribute>` as a float, or None when XGBoost has not set it (it raises then, or
    returns None, depending on the kind of booster)."""
    try:
        value = getattr(model, attribute)
        return None if value is None else float(value)
    except Exception:
        return None
