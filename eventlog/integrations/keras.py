"""Keras 3: `EventLogKerasCallback`, a `keras.callbacks.Callback` that logs a `model.fit` run.

```python
import keras
from eventlog.integrations.keras import EventLogKerasCallback

model.fit(x, y, epochs=3, validation_split=0.2, callbacks=[EventLogKerasCallback("mnist")])
```

At the start of training it logs the fit settings (`epochs`, `steps`) and the optimizer's config
(`optimizer/<key>`) as params; at the end of every `batch_frequency`-th batch the batch's logs as
`batch_<key>` at the global batch number, and at the end of every epoch the epoch's logs
(validation included) as `epoch_<key>` at the epoch number (the names Keras' TensorBoard callback
uses); at the end, the run's `stop`. Any Keras backend works (the tests use torch). Keras is
imported when this module is, never by `import eventlog`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from eventlog.integrations._extra import framework_missing

try:
    import keras
except ImportError as exc:
    raise framework_missing("keras", "keras", exc) from exc

from eventlog.integrations._params import plain_params
from eventlog.integrations._runs import IntegrationRun, RunHandle

if TYPE_CHECKING:
    from eventlog.log import Log

__all__ = ["EventLogKerasCallback"]


class EventLogKerasCallback(keras.callbacks.Callback, RunHandle):  # type: ignore[misc]
    """Log a Keras `fit` as one run: settings and optimizer as params, batch and epoch logs as metrics.

    Args:
        experiment: the experiment name.
        uri: the store (None: $EVENTLOG_URI, else ./.eventlog); ignored when `log` is given.
        log: an open `eventlog.Log` to write through (default: one of the callback's own).
        batch_frequency: log the batch logs every this many batches (default 1: every batch);
            0 logs only the epochs.

    Raises:
        InvalidNameError: the experiment name breaks a naming rule.
        ValueError: `batch_frequency` is negative.

    Example:
        >>> model.fit(x, y, epochs=3, callbacks=[EventLogKerasCallback("mnist")])  # doctest: +SKIP
    """

    def __init__(self, experiment: str = "keras", *, uri: str | None = None, log: Log | None = None, batch_frequency: int = 1) -> None:
        super().__init__()
        if not isinstance(batch_frequency, int) or batch_frequency < 0:
            raise ValueError(f"batch_frequency must be an int >= 0, got {batch_frequency!r}")
        self._settings: dict[str, Any] = {"experiment": experiment, "uri": uri, "log": log}
        self._run = IntegrationRun(experiment, uri=uri, log=log)
        self.batch_frequency = batch_frequency
        self._batches = 0  # batches seen in this fit, over all epochs

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        """Start a new run; log the fit settings, the model's size and the optimizer's config."""
        if self._run.run is not None:  # a second fit with this callback: a new run
            self._run = IntegrationRun(**self._settings)
        self._batches = 0
        params = plain_params(dict(self.params or {}))
        model = self.model
        if model is not None:
            params["model/name"] = model.name
            params["model/count_params"] = int(model.count_params())
            optimizer = getattr(model, "optimizer", None)
            if optimizer is not None:
                params.update(plain_params(optimizer.get_config(), prefix="optimizer"))
        self.experiment.log_params(params)

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Log the batch's logs as `batch_<key>` at the global batch number (every `batch_frequency`)."""
        self._batches += 1
        if logs and self.batch_frequency and self._batches % self.batch_frequency == 0:
            self.experiment.log_metrics({f"batch_{key}": value for key, value in logs.items()}, step=self._batches)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Log the epoch's logs (validation included) as `epoch_<key>` at the epoch number."""
        if logs:
            self.experiment.log_metrics({f"epoch_{key}": value for key, value in logs.items()}, step=epoch)

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        """Stop the run (`completed`)."""
        self._run.stop("completed")
