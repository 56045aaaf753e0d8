"""Who is writing: host, user, rank, distributed job id and a unique writer id per process."""

from __future__ import annotations

import getpass
import os
import re
import secrets
import socket
from dataclasses import dataclass

from eventlog import env
from eventlog.core.names import validate_job_id
from eventlog.errors import InvalidNameError

__all__ = ["Identity", "current_identity", "job_id", "rank"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def rank() -> int | None:
    """The process rank from the launcher's environment (RANK, SLURM_PROCID, ...), or None."""
    for name in env.RANK_VARIABLES:
        value = os.environ.get(name)
        if value is not None and value.strip().lstrip("-").isdigit():
            return int(value)
    return None


def job_id() -> str | None:
    """The distributed job id shared by all ranks (EVENTLOG_RUN_ID, TORCHELASTIC_RUN_ID, SLURM_JOB_ID, ...).

    Raises:
        InvalidNameError: the variable holds a value that cannot name a file (such as `..`).
    """
    for name in env.JOB_ID_VARIABLES:
        value = os.environ.get(name)
        if value:
            try:
                return validate_job_id(value)
            except InvalidNameError as exc:
                raise InvalidNameError(f"{name}={value!r}: {exc}") from None
    return None


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


@dataclass(frozen=True)
class Identity:
    """The automatic columns of every event a process writes."""

    node: str
    userid: str
    rank: int | None
    writer: str


def current_identity() -> Identity:
    """A fresh identity for this process: a writer id unique across hosts, processes and restarts."""
    node = socket.gethostname() or "localhost"
    writer = f"{_UNSAFE.sub('_', node)[:64]}-{os.getpid()}-{secrets.token_hex(4)}"
    return Identity(node=node, userid=_user(), rank=rank(), writer=writer)
