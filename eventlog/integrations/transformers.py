"""Hugging Face transformers: `EventLogCallback`, a `TrainerCallback` that logs a `Trainer` run.

```python
from transformers import Trainer
from eventlog.integrations.transformers import EventLogCallback

trainer = Trainer(model=model, args=args, train_dataset=train, callbacks=[EventLogCallback("bert-tiny")])
trainer.train()                                   # then: eventlog runs bert-tiny
```

`on_train_begin` logs the `TrainingArguments` and the model's config (as `model/<key>`) as params,
`on_log` every numeric value of the logs at `state.global_step`, `on_train_end` the run's `stop`.
Only the world's process zero logs: the Trainer gathers the losses of every process before it
logs them, so the other processes would log the same numbers again.
transformers is imported when this module is, never by `import eventlog`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from eventlog.integrations._extra import framework_missing

try:
    from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
except ImportError as exc:
    raise framework_missing("transformers", "transformers", exc) from exc

from eventlog.core.values import numeric_or_none
from eventlog.integrations._params import plain_params
from eventlog.integrations._runs import IntegrationRun, RunHandle

if TYPE_CHECKING:
    from eventlog.log import Log

__all__ = ["EventLogCallback"]


class EventLogCallback(TrainerCallback, RunHandle):  # type: ignore[misc]
    """Log a transformers `Trainer` run: arguments and model config as params, logs as metrics.

    Args:
        experiment: the experiment name.
        uri: the store (None: $EVENTLOG_URI, else ./.eventlog); ignored when `log` is given.
        log: an open `eventlog.Log` to write through (default: one of the callback's own).
        log_checkpoints: log each checkpoint directory the Trainer saves as an artifact
            (`checkpoint-<step>`); default False.

    Raises:
        InvalidNameError: the experiment name breaks a naming rule.

    Example:
        >>> Trainer(model=model, args=args, callbacks=[EventLogCallback("bert-tiny")])  # doctest: +SKIP
    """

    def __init__(self, experiment: str = "transformers", *, uri: str | None = None, log: Log | None = None, log_checkpoints: bool = False) -> None:
        self._settings = {"experiment": experiment, "uri": uri, "log": log}
        self._run = IntegrationRun(experiment, uri=uri, log=log)
        self.log_checkpoints = log_checkpoints

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        """Start a new run and log the arguments and the model's config as params."""
        if not state.is_world_process_zero:
            return
        if self._run.started or self._run.run is not None:  # a second train() with this callback: a new run
            self._run = IntegrationRun(**self._settings)  # type: ignore[arg-type]
        experiment = self.experiment
        params = plain_params(args.to_dict())
        config = getattr(kwargs.get("model"), "config", None)
        if config is not None and hasattr(config, "to_dict"):
            params.update(plain_params(config.to_dict(), prefix="model"))
        experiment.log_params(params)
        if args.run_name:
            experiment.set_name(args.run_name)

    def on_log(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> None:
        """Log the numeric values of `logs` as metrics at `state.global_step` (text values are left out)."""
        if not state.is_world_process_zero or not logs:
            return
        numbers = {key: value for key, value in logs.items() if numeric_or_none(value) is not None}
        if numbers:
            self.experiment.log_metrics(numbers, step=state.global_step)

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        """With `log_checkpoints`, log the checkpoint directory just saved as an artifact."""
        if not (self.log_checkpoints and state.is_world_process_zero):
            return
        name = f"checkpoint-{state.global_step}"
        path = os.path.join(args.output_dir or ".", name)
        if os.path.isdir(path):
            self.experiment.log_artifact(path, name, state.global_step)

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        """Stop the run (`completed`); a later `trainer.evaluate()` logs into the same run."""
        if state.is_world_process_zero:
            self._run.stop("completed")
