"""Run numbers: claimed atomically per experiment by creating `runs/experiment=<name>/<n>` (DESIGN §5).

A claim is create-if-absent, so two processes starting runs at the same moment never get the
same number: the loser of a race retries with n+1. All ranks of one distributed job share one run
without talking to each other: the claim object holds the job id, and a rank that loses the race
for number n to a rank of its own job adopts n. A job index (`job/<job id>` -> n) lets ranks that
start later find the number with one read.
"""

from __future__ import annotations

import time

import msgspec

from eventlog.core import layout
from eventlog.core.store import Store
from eventlog.errors import AlreadyExistsError, EventLogError

__all__ = ["Claim", "claim_run", "latest_run", "list_runs"]

# A rank arriving late checks the newest claims for its job id; more than this many other runs
# would have to be claimed between its job's claim and its own look for it to miss the claim
# (and even then the job index written right after the claim finds it).
_RECENT_CLAIMS_CHECKED = 32
_MAX_ATTEMPTS = 10_000


class Claim(msgspec.Struct, frozen=True):
    """The content of a claim object: who claimed the run and for which job."""

    writer: str
    job: str | None = None
    dt: int = 0


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Claim)


def list_runs(store: Store, experiment: str) -> list[int]:
    """Every claimed run number of `experiment`, ascending."""
    runs = []
    for name in store.list_dir(layout.claims_dir(experiment)):
        if name.isdigit():
            runs.append(int(name))
    return sorted(runs)


def latest_run(store: Store, experiment: str) -> int | None:
    """The highest claimed run number of `experiment`, or None if no run was ever started."""
    runs = list_runs(store, experiment)
    return runs[-1] if runs else None


def _read_claim(store: Store, experiment: str, run: int) -> Claim | None:
    try:
        return _decoder.decode(store.read(layout.claim_path(experiment, run)))
    except (FileNotFoundError, msgspec.DecodeError):
        return None


def _job_run(store: Store, experiment: str, job: str, runs: list[int]) -> int | None:
    """The run already claimed for `job`, from the job index or the newest claims."""
    try:
        return int(store.read(layout.job_index_path(experiment, job)))
    except (FileNotFoundError, ValueError):
        pass
    for run in reversed(runs[-_RECENT_CLAIMS_CHECKED:]):
        claim = _read_claim(store, experiment, run)
        if claim is not None and claim.job == job:
            return run
    return None


def claim_run(store: Store, experiment: str, *, writer: str, job: str | None = None) -> int:
    """Claim the next run number of `experiment` (or join the run of distributed job `job`).

    Args:
        store: the store.
        experiment: a validated experiment name.
        writer: the claiming writer's id (recorded in the claim).
        job: a job id shared by all ranks of one distributed job, or None for a fresh run.

    Returns:
        The run number: new, or the one the job's ranks share.

    Raises:
        EventLogError: no number could be claimed after many attempts.
    """
    runs = list_runs(store, experiment)
    if job is not None:
        existing = _job_run(store, experiment, job, runs)
        if existing is not None:
            return existing
    candidate = (runs[-1] if runs else 0) + 1
    payload = _encoder.encode(Claim(writer=writer, job=job, dt=time.time_ns()))
    for _ in range(_MAX_ATTEMPTS):
        try:
            store.create(layout.claim_path(experiment, candidate), payload)
        except AlreadyExistsError:
            if job is not None:
                claim = _read_claim(store, experiment, candidate)
                if claim is not None and claim.job == job:
                    return candidate
            candidate += 1
            continue
        if job is not None:
            _write_job_index(store, experiment, job, candidate)
        return candidate
    raise EventLogError(f"could not claim a run number for experiment {experiment!r} after {_MAX_ATTEMPTS} attempts")


def _write_job_index(store: Store, experiment: str, job: str, run: int) -> None:
    try:
        store.create(layout.job_index_path(experiment, job), str(run).encode())
    except AlreadyExistsError:
        pass
