"""Where everything lives inside a store root (DESIGN §3): the one module that knows the layout.

```
seg/experiment=<name>/date=<YYYY-MM-DD>/<writer>/<seq:020>.parquet   raw segments, one writer each
cmp/experiment=<name>/date=<YYYY-MM-DD>/<version:020>-<uuid>.parquet compacted (via a manifest only)
_manifest/<version:020>.json                                         compactor commits
_pins/<id>.json                                                       pinned snapshots gc keeps
runs/experiment=<name>/<n:020>                                        run-number claims
runs/experiment=<name>/job/<job id>                                   job id -> run number index
artifacts/<experiment>/<run>/<name>                                   artifact payloads
```

Experiment names and job ids are percent-encoded in paths (polars and DuckDB decode hive values).
All paths returned here are relative to the store root and use `/`.
"""

from __future__ import annotations

import datetime as _dt
from urllib.parse import quote, unquote

from eventlog.core.names import validate_writer

__all__ = [
    "ARTIFACTS",
    "COMPACTED",
    "MANIFESTS",
    "PINS",
    "RUNS",
    "SEGMENTS",
    "artifact_dir",
    "claim_path",
    "claims_dir",
    "date_of",
    "date_of_ns",
    "encode_name",
    "experiment_dir",
    "experiment_of",
    "job_index_path",
    "partition_dir",
    "segment_path",
]

SEGMENTS = "seg"
COMPACTED = "cmp"
MANIFESTS = "_manifest"
PINS = "_pins"
RUNS = "runs"
ARTIFACTS = "artifacts"
_NS_PER_DAY = 86_400 * 10**9
_EPOCH = _dt.date(1970, 1, 1)


def encode_name(name: str) -> str:
    """Percent-encode a name so that it is one safe path segment (`.` and `..` too)."""
    encoded = quote(name, safe="")
    return encoded.replace(".", "%2E") if not encoded.strip(".") else encoded


def date_of_ns(dt_ns: int) -> str:
    """The UTC date partition (YYYY-MM-DD) of a timestamp in nanoseconds since the epoch."""
    return (_EPOCH + _dt.timedelta(days=dt_ns // _NS_PER_DAY)).isoformat()


def experiment_dir(area: str, experiment: str) -> str:
    """`<area>/experiment=<name>`, the directory of one experiment's files in an area (seg, cmp or runs)."""
    return f"{area}/experiment={encode_name(experiment)}"


def partition_dir(area: str, experiment: str, date: str) -> str:
    """`<area>/experiment=<name>/date=<date>`, the hive partition directory of an area (seg or cmp)."""
    return f"{experiment_dir(area, experiment)}/date={date}"


def segment_path(experiment: str, date: str, writer: str, first_seq: int) -> str:
    """Path of the raw segment whose first event has sequence number `first_seq`.

    Raises:
        InvalidNameError: `writer` cannot be a directory name (such as `..`).
    """
    validate_writer(writer)
    return f"{partition_dir(SEGMENTS, experiment, date)}/{writer}/{first_seq:020d}.parquet"


def experiment_of(path: str) -> str | None:
    """The experiment name encoded in a path (`.../experiment=<name>/...`), or None."""
    for part in path.split("/"):
        if part.startswith("experiment="):
            return unquote(part[len("experiment=") :])
    return None


def date_of(path: str) -> str | None:
    """The date partition encoded in a path (`.../date=<YYYY-MM-DD>/...`), or None."""
    for part in path.split("/"):
        if part.startswith("date="):
            return part[len("date=") :]
    return None


def claims_dir(experiment: str) -> str:
    """Directory of the run-number claims of one experiment."""
    return experiment_dir(RUNS, experiment)


def claim_path(experiment: str, run: int) -> str:
    """The claim object of run number `run`."""
    return f"{claims_dir(experiment)}/{run:020d}"


def job_index_path(experiment: str, job_id: str) -> str:
    """The object that maps a distributed job id to the run number its ranks share."""
    return f"{claims_dir(experiment)}/job/{encode_name(job_id)}"


def artifact_dir(experiment: str, run: int | None = None) -> str:
    """Directory of one run's artifact payloads (`run=None`: of all the experiment's runs)."""
    directory = f"{ARTIFACTS}/{encode_name(experiment)}"
    return directory if run is None else f"{directory}/{run}"
