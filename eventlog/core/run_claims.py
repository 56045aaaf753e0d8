"""Run numbers: claimed atomically per experiment by creating `runs/experiment=<name>/<n>` (DESIGN §5).

A claim is create-if-absent, so two processes starting runs at the same moment never get the
same number: the loser of a race retries with n+1. All ranks of one distributed job share one run
without talking to each other: the claim object holds the job id, and a rank that loses the race
for number n to a rank of its own job adopts n. A job index (`job/<job id>` -> n) lets ranks that
start later find the number with one read.

Only the existence of a claim counts, except for a distributed job's ranks, which read the job id
in it: a claim without a job is made durable by its name alone (on local disk its content is not
fsynced, and may be empty after a power loss; `_read_claim` then returns None).

A claim costs O(1) requests however many runs the experiment has: the process remembers the
highest number it saw claimed per experiment (its high-water mark), checks that this claim is
still there (the experiment may have been cleared since) and tries the next one. The
first claim of a process, and a claim that finds its number taken (another process claimed
meanwhile), find the first free number by probing: doubling steps from the mark until a number
is free, then bisecting, so a gap of k numbers costs about 2 log2(k) existence checks, never a
listing of every claim (a distributed job's first claim still lists the claims and walks them one by
one, reading each, so that no rank skips past its own job's run). Numbers are claimed contiguously, so the claimed numbers form a prefix
and the bisection is exact; create-if-absent keeps every claim race-safe whatever a probe saw.
"""

from __future__ import annotations

import time

import msgspec

from eventlog.core import layout
from eventlog.core.store import Store
from eventlog.errors import AlreadyExistsError, EventLogError

__all__ = ["Claim", "claim_run", "forget_high_water", "latest_run", "list_runs"]

# A rank arriving late checks the newest claims for its job id; more than this many other runs
# would have to be claimed between its job's claim and its own look for it to miss the claim
# (and even then the job index written right after the claim finds it).
_RECENT_CLAIMS_CHECKED = 32
_MAX_ATTEMPTS = 10_000
# (store uri, experiment) -> the highest run number this process saw claimed
_high_water: dict[tuple[str, str], int] = {}


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


def _claimed(store: Store, experiment: str, run: int) -> bool:
    return store.exists(layout.claim_path(experiment, run))


def _first_free(store: Store, experiment: str, after: int) -> int:
    """The first unclaimed number above `after` (a number known claimed, or 0), by doubling then bisecting."""
    step = 1
    claimed = after
    while _claimed(store, experiment, claimed + step):
        claimed += step
        step *= 2
    free = claimed + step
    while free - claimed > 1:  # claimed < answer <= free
        middle = (claimed + free) // 2
        if _claimed(store, experiment, middle):
            claimed = middle
        else:
            free = middle
    return free


def forget_high_water(store: Store, experiment: str) -> None:
    """Forget this process's high-water mark of `experiment` (after its claims were deleted)."""
    _high_water.pop((store.uri, experiment), None)


def claim_run(store: Store, experiment: str, *, writer: str, job: str | None = None, defer_sync: bool = False) -> int:
    """Claim the next run number of `experiment` (or join the run of distributed job `job`).

    Args:
        store: the store.
        experiment: a validated experiment name.
        writer: the claiming writer's id (recorded in the claim).
        job: a job id shared by all ranks of one distributed job, or None for a fresh run.
        defer_sync: a claim without a job becomes durable with the next segment this process
            publishes (`Store.sync_pending`), not before this returns: one directory fsync per
            flush instead of one per run, for sweeps whose stopped runs wait for the next flush.
            Other processes see the claim at once either way.

    Returns:
        The run number: new, or the one the job's ranks share.

    Raises:
        EventLogError: no number could be claimed after many attempts.
    """
    key = (store.uri, experiment)
    mark = _high_water.get(key)
    if job is not None:
        # One listing, then one number at a time from its end: every claim passed is read, so no
        # rank skips past its own job's run (a second listing could start past a claim unread).
        runs = list_runs(store, experiment)
        existing = _job_run(store, experiment, job, runs)
        if existing is not None:
            return existing
        candidate = (runs[-1] if runs else 0) + 1
    else:
        # the mark's own claim still there (one check): else the claims were deleted, probe afresh
        fresh = mark is None or not _claimed(store, experiment, mark)
        candidate = _first_free(store, experiment, 0) if fresh else (mark or 0) + 1
    payload = _encoder.encode(Claim(writer=writer, job=job, dt=time.time_ns()))
    # Only a job's ranks read a claim's content; any other claim counts by its name alone, so its
    # content need not survive a power loss (one journal commit less per run on local disk), and
    # with `defer_sync` its name becomes durable with the next segment.
    sync_data = job is not None
    sync_name = sync_data or not defer_sync
    for _ in range(_MAX_ATTEMPTS):
        try:
            store.create(layout.claim_path(experiment, candidate), payload, sync_data=sync_data, sync_name=sync_name)
        except AlreadyExistsError:
            if job is not None:
                claim = _read_claim(store, experiment, candidate)
                if claim is not None and claim.job == job:
                    _high_water[key] = max(_high_water.get(key, 0), candidate)
                    return candidate
            # others claimed meanwhile: skip past them (a job's rank reads each, see above)
            candidate = candidate + 1 if job is not None else _first_free(store, experiment, candidate)
            continue
        _high_water[key] = candidate
        if job is not None:
            _write_job_index(store, experiment, job, candidate)
        return candidate
    raise EventLogError(f"could not claim a run number for experiment {experiment!r} after {_MAX_ATTEMPTS} attempts")


def _write_job_index(store: Store, experiment: str, job: str, run: int) -> None:
    try:
        store.create(layout.job_index_path(experiment, job), str(run).encode())
    except AlreadyExistsError:
        pass
