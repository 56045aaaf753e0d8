"""Environment variable names eventlog reads, in one place (as dvclive's env.py)."""

from __future__ import annotations

__all__ = [
    "EVENTLOG_COMPACT_EVERY",
    "EVENTLOG_FLUSH_ON_STOP",
    "EVENTLOG_ON_DAMAGED",
    "EVENTLOG_RUN_ID",
    "EVENTLOG_SPOOL_DIR",
    "EVENTLOG_TOKEN",
    "EVENTLOG_TRACK_PREFIX",
    "EVENTLOG_URI",
    "JOB_ID_VARIABLES",
    "RANK_VARIABLES",
]

EVENTLOG_URI = "EVENTLOG_URI"
EVENTLOG_RUN_ID = "EVENTLOG_RUN_ID"
EVENTLOG_SPOOL_DIR = "EVENTLOG_SPOOL_DIR"
EVENTLOG_TOKEN = "EVENTLOG_TOKEN"
EVENTLOG_TRACK_PREFIX = "EVENTLOG_TRACK_"
#: `skip`: reads leave damaged files out (query.damage); the CLI's --skip-damaged sets it.
EVENTLOG_ON_DAMAGED = "EVENTLOG_ON_DAMAGED"
#: Seconds: a logger opened without `compact_every` compacts the experiments it writes this often.
EVENTLOG_COMPACT_EVERY = "EVENTLOG_COMPACT_EVERY"
#: `0`/`false`: a logger opened without `flush_on_stop` leaves stopped runs to its periodic flush.
EVENTLOG_FLUSH_ON_STOP = "EVENTLOG_FLUSH_ON_STOP"

#: Job ids shared by all ranks of one distributed job, in order of preference.
JOB_ID_VARIABLES = (
    EVENTLOG_RUN_ID,
    "TORCHELASTIC_RUN_ID",
    "SLURM_JOB_ID",
    "PBS_JOBID",
    "LSB_JOBID",
    "JOB_ID",
)

#: The process rank within a distributed job, in order of preference.
RANK_VARIABLES = ("RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "LOCAL_RANK")
