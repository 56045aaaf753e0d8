"""`IntegrationRun`: the one eventlog run a framework logger or callback writes into.

Every integration needs the same few things: a `Log` opened only when the first event arrives
(so that constructing a callback costs nothing and, under a launcher that starts the ranks, each
rank opens its own log after the launcher set its rank), one run started once, stopped with a
status, and continued (not restarted) when the framework logs again after stopping it (Lightning's
`trainer.test()` after `trainer.fit()`).

Distributed jobs: the ranks of one job share one run through the job-keyed claim (DESIGN §5).
`job_key()` gives the n-th job-keyed integration run of a process a key that the n-th one of
every other rank of the same job computes too, without talking to them: the launcher's job id
(`EVENTLOG_RUN_ID`, `TORCHELASTIC_RUN_ID`, `SLURM_JOB_ID`, ...) when there is one; otherwise a
random id the first process exports in `EVENTLOG_INTEGRATION_JOB` before it launches its ranks
(Lightning's own launcher re-runs the script with the parent's environment), which a process that
a launcher started as a rank (it has `RANK`, `LOCAL_RANK`, ...) adopts.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import uuid
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from eventlog import env
from eventlog.core.identity import job_id, rank
from eventlog.core.names import validate_experiment

if TYPE_CHECKING:
    from eventlog.experiment import Experiment
    from eventlog.log import Log

__all__ = ["JOB_VARIABLE", "IntegrationRun", "RunHandle", "job_key"]

#: The job id a process without a launcher's job id hands to the ranks it launches.
JOB_VARIABLE = "EVENTLOG_INTEGRATION_JOB"

_counter = itertools.count(1)
_base: str | None = None


def job_key() -> str:
    """The job key of the next job-keyed integration run of this process (see the module docstring).

    The first is the job id itself, so that it joins the run a `with exp:` of the same job uses;
    the n-th (n > 1) is `<job id>.<n>`, so that a script training twice logs two runs.
    """
    global _base
    n = next(_counter)
    base = job_id()
    if base is None:
        if _base is None:
            inherited = os.environ.get(JOB_VARIABLE)
            # Only a rank started by a launcher adopts the parent's id: a script that a training
            # process merely runs as a subprocess must not join its runs.
            _base = inherited if inherited and rank() is not None else f"job-{uuid.uuid4().hex[:16]}"
            os.environ[JOB_VARIABLE] = _base
        base = _base
    return base if n == 1 else f"{base}.{n}"


@contextlib.contextmanager
def _environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (str) or leave (None) environment variables for the block, then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is not None:
                os.environ[name] = value
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


class IntegrationRun:
    """One run of `experiment`, started on first use; the integrations' shared plumbing.

    Args:
        experiment: the experiment name.
        uri: the store (None: $EVENTLOG_URI, else ./.eventlog); ignored when `log` is given.
        log: an open `Log` to write through (default: one of its own, opened on first use and
            closed when the run stops).
        job: a job key shared by every rank of a distributed job (see `job_key`), or None for a
            run of this process alone.
        run: log into this existing run number instead of claiming one.

    Raises:
        InvalidNameError: the experiment name breaks a naming rule.
    """

    def __init__(
        self, experiment: str, *, uri: str | None = None, log: Log | None = None, job: str | None = None, run: int | None = None
    ) -> None:
        self.name = validate_experiment(experiment)
        self.uri = uri
        self.job = job
        self.run: int | None = run
        self._given_run = run
        self._given_log = log
        self._log: Log | None = log
        self._experiment: Experiment | None = None
        self._active = False  # the handle's run is started (or continued) and not stopped
        self._rank: int | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the settings, not the open log (Lightning's spawn launcher pickles its loggers)."""
        state = dict(self.__dict__)
        state.update(_log=None, _experiment=None, _given_log=None, _active=False)
        if self.job is not None:
            state["run"] = self._given_run  # each rank claims the job's run and logs its own `start`
        return state

    @property
    def started(self) -> bool:
        """True while the run is started (or continued) in this process and not stopped."""
        return self._active

    def set_rank(self, global_rank: int | None) -> None:
        """The process's rank in its job, stamped on its events when the environment names none."""
        self._rank = global_rank

    def experiment(self) -> Experiment:
        """The active run's handle: started on the first call, continued after `stop()`."""
        handle = self._experiment
        if handle is not None and self._active:
            return handle
        if self._log is None:
            # The rank in RANK (which wins over LOCAL_RANK) while the log takes its identity:
            # Lightning's launcher sets only LOCAL_RANK, which is not the global rank past one node.
            override = str(self._rank) if self._rank is not None and os.environ.get("RANK") is None else None
            with _environment({"RANK": override}):
                import eventlog

                self._log = eventlog.open(self.uri)
        if handle is None:
            handle = self._log.experiment(self.name)
        if self.run is not None:
            handle.use(self.run)  # continue it: its `start` was logged before
        elif self.job is not None:
            with _environment({env.EVENTLOG_RUN_ID: self.job}):  # the job-keyed claim (DESIGN §5)
                self.run = handle.start()
        else:
            self.run = handle.start(self._log.claim_run(self.name, None))  # never a launcher's job run
        self._experiment = handle
        self._active = True
        return handle

    def stop(self, status: str = "completed", error: BaseException | None = None) -> None:
        """Log the run's `stop` with `status` (or `failed` and the error) and flush; close an own log.

        Does nothing when the run was never started in this process or is stopped already.
        """
        handle = self._experiment
        if handle is None or not self._active:
            return
        try:
            handle.stop(status=status, error=error)
        finally:
            self._active = False
            if self._given_log is None and self._log is not None:
                self._log.close()
                self._log = None
                self._experiment = None  # a later event opens a new log and continues the run

    def flush(self) -> None:
        """Make everything logged so far durable and visible to queries."""
        if self._log is not None:
            self._log.flush()


def current_error() -> BaseException | None:
    """The exception being handled right now, if any (frameworks report failure without it)."""
    return sys.exc_info()[1]


class RunHandle:
    """The `run` and `experiment` properties every callback offers, over its `_run` (an `IntegrationRun`)."""

    _run: IntegrationRun

    @property
    def run(self) -> int | None:
        """The number of the run being (or last) logged, or None before training."""
        return self._run.run

    @property
    def experiment(self) -> Experiment:
        """The eventlog `Experiment` handle of the run, for logging anything else into it."""
        return self._run.experiment()
