"""PyTorch Lightning: `EventLogLogger`, a `lightning.pytorch` logger that writes into an eventlog run.

```python
import lightning.pytorch as pl
from eventlog.integrations.lightning import EventLogLogger

trainer = pl.Trainer(max_epochs=3, logger=EventLogLogger("mnist"))
trainer.fit(model, train_loader, val_loader)     # then: eventlog runs mnist
```

Under DDP every rank logs its own metrics into the one run of the job (its events carry its
rank); the hyperparameters and the checkpoints are logged once, by global rank 0.
Lightning is imported when this module is, never by `import eventlog`.
"""

from __future__ import annotations

import warnings
from argparse import Namespace
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from eventlog.integrations._extra import framework_missing

try:
    from lightning.fabric.utilities.logger import _add_prefix, _convert_params, _sanitize_callable_params
    from lightning.pytorch.loggers.logger import Logger
    from lightning.pytorch.loggers.utilities import _scan_checkpoints
    from lightning.pytorch.utilities.rank_zero import rank_zero_only
except ImportError as exc:
    raise framework_missing("lightning", "lightning", exc) from exc

from eventlog.integrations._params import plain_params
from eventlog.integrations._runs import IntegrationRun, current_error, job_key

if TYPE_CHECKING:
    from lightning.pytorch.callbacks.model_checkpoint import ModelCheckpoint

    from eventlog.experiment import Experiment
    from eventlog.log import Log

__all__ = ["EventLogLogger"]

#: Lightning's `finalize(status)` words, as the status of the run's `stop` event.
_STATUS = {"success": "completed", "finished": "completed", "failed": "failed"}


def _global_rank() -> int | None:
    """This process's global rank once Lightning's strategy set it up, else None (one process)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return int(dist.get_rank())
    return None


class EventLogLogger(Logger):
    """A Lightning logger writing params, metrics and checkpoints into one eventlog run.

    Args:
        experiment: the experiment name (Lightning's `name`).
        uri: the store (None: $EVENTLOG_URI, else ./.eventlog); ignored when `log` is given.
        log: an open `eventlog.Log` to write through (default: one of the logger's own, opened
            at the first event and closed when the run stops).
        save_dir: the local directory Lightning puts checkpoints under
            (`<save_dir>/<experiment>/version_<run>/checkpoints`); None: the trainer's
            `default_root_dir`.
        log_model: False (default): no checkpoints; True: the checkpoints that
            `ModelCheckpoint` keeps, logged as artifacts when training ends; `"all"`: every
            checkpoint as soon as it is saved.
        prefix: put before every metric key (with `-`, as Lightning's other loggers).
        run: continue this existing run number instead of starting a new run.

    Raises:
        InvalidNameError: the experiment name breaks a naming rule.

    Example:
        >>> trainer = pl.Trainer(logger=EventLogLogger("mnist", log_model=True))  # doctest: +SKIP
    """

    LOGGER_JOIN_CHAR = "-"

    def __init__(
        self,
        experiment: str = "lightning_logs",
        *,
        uri: str | None = None,
        log: Log | None = None,
        save_dir: str | Path | None = None,
        log_model: bool | Literal["all"] = False,
        prefix: str = "",
        run: int | None = None,
    ) -> None:
        super().__init__()
        if log_model not in (True, False, "all"):
            raise ValueError(f"log_model must be True, False or 'all', got {log_model!r}")
        # The job key is fixed now, before Lightning launches the other ranks (see _runs.job_key).
        self._run = IntegrationRun(experiment, uri=uri, log=log, job=None if run is not None else job_key(), run=run)
        self._save_dir = None if save_dir is None else str(save_dir)
        self._log_model = log_model
        self._prefix = prefix
        self._checkpoint_callback: ModelCheckpoint | None = None
        self._logged_model_time: dict[str, float] = {}

    # -- what Lightning asks ---------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The experiment name."""
        return self._run.name

    @property
    def version(self) -> int:
        """The run number (the run starts when Lightning first asks)."""
        self.experiment  # noqa: B018  (starts the run)
        assert self._run.run is not None
        return self._run.run

    @property
    def save_dir(self) -> str | None:
        """The local directory for checkpoints, or None (Lightning then uses `default_root_dir`)."""
        return self._save_dir

    @property
    def root_dir(self) -> str | None:
        """`<save_dir>/<experiment>`, or None without a `save_dir`."""
        return None if self._save_dir is None else str(Path(self._save_dir) / self.name)

    @property
    def log_dir(self) -> str | None:
        """`<save_dir>/<experiment>/version_<run>`, where Lightning writes this run's files, or None."""
        root = self.root_dir
        return None if root is None else str(Path(root) / f"version_{self.version}")

    @property
    def experiment(self) -> Experiment:
        """The eventlog `Experiment` handle of the run, for logging anything else into it.

        Every rank gets its own handle on the job's one run (Lightning reads this on every rank
        after setting up the strategy, which is when the run starts).
        """
        if not self._run.started:
            self._run.set_rank(_global_rank())
        return self._run.experiment()

    def log_hyperparams(self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any) -> None:
        """Log the hyperparameters as params (nested ones as `outer/inner`), from global rank 0 only."""
        if getattr(rank_zero_only, "rank", 0) != 0:  # set by Lightning from the strategy (or the environment)
            return
        flat = plain_params(_sanitize_callable_params(_convert_params(params)))
        try:
            self.experiment.log_params(flat)
        except ValueError as exc:  # a param changed between fit() and test(): say so, keep training
            warnings.warn(f"eventlog: hyperparameters not logged again: {exc}", RuntimeWarning, stacklevel=2)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log `metrics` at `step` (every rank logs its own)."""
        self.experiment.log_metrics(dict(_add_prefix(metrics, self._prefix, self.LOGGER_JOIN_CHAR)), step=step)

    def after_save_checkpoint(self, checkpoint_callback: ModelCheckpoint) -> None:
        """Log the new checkpoints with `log_model="all"`; with True, remember them for the end."""
        if self._log_model == "all" or (self._log_model is True and checkpoint_callback.save_top_k == -1):
            self._log_checkpoints(checkpoint_callback)
        elif self._log_model is True:
            self._checkpoint_callback = checkpoint_callback

    def finalize(self, status: str) -> None:
        """Log the kept checkpoints (with `log_model=True`), then stop the run with the status.

        `success` and `finished` become `completed`; `failed` becomes `failed`, with the exception
        Lightning is handling.
        """
        if not self._run.started:
            return
        if self._checkpoint_callback is not None and status != "failed":
            self._log_checkpoints(self._checkpoint_callback)
        error = current_error() if status == "failed" else None
        self._run.stop(_STATUS.get(status, status), error=error if isinstance(error, Exception) else None)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the checkpoint callback (Lightning's spawn launcher pickles its loggers)."""
        state = dict(self.__dict__)
        state["_checkpoint_callback"] = None
        return state

    # -- internals -------------------------------------------------------------------------------
    def _log_checkpoints(self, callback: ModelCheckpoint) -> None:
        """Log every checkpoint file of `callback` not logged yet (or changed since) as an artifact."""
        experiment = self.experiment
        for mtime, path, score, tag in _scan_checkpoints(callback, self._logged_model_time):
            aliases = ["latest", "best"] if path == callback.best_model_path else [tag]
            extra = {"aliases": ",".join(aliases), "monitor": str(callback.monitor or "")}
            if score is not None:
                extra["score"] = str(float(score))
            experiment.log_artifact(Path(path), f"checkpoint/{Path(path).stem}", None, **extra)
            self._logged_model_time[path] = mtime
