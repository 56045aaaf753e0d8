"""Where everything lives inside a store root (DESIGN §3): the one module that knows the layout.

```
seg/experiment=<name>/date=<YYYY-MM-DD>/<writer>/<seq:020>[.runs-<lo>-<hi>].parquet  raw segments
cmp/experiment=<name>/date=<YYYY-MM-DD>/<version:020>-<uuid>.parquet compacted (via a manifest only)
_manifest/<version:020>.json                                         compactor commits
_pins/<id>.json                                                       pinned snapshots gc keeps
runs/experiment=<name>/<n:020>                                        run-number claims
runs/experiment=<name>/job/<job id>                                   job id -> run number index
artifacts/<experiment>/<run>/<name>                                   artifact payloads
```

A raw segment's name is the sequence number of its first event, then the range of run numbers
its events belong to (`.runs-3-7`), so that a reader of some runs skips the other runs' segments
without opening them (one GET each on S3). Segments written before the range was named have only
the sequence number; they may hold any run.

Experiment names and job ids are percent-encoded in paths (polars and DuckDB decode hive values).
All paths returned here are relative to the store root and use `/`.
"""

from __future__ import annotations

import datetime as _dt
import re
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
    "parse_segment_name",
    "partition_dir",
    "segment_path",
    "segment_runs",
]

SEGMENTS = "seg"
COMPACTED = "cmp"
MANIFESTS = "_manifest"
PINS = "_pins"
RUNS = "runs"
ARTIFACTS = "artifacts"
_NS_PER_DAY = 86_400 * 10**9
_RUNS_TAG = ".runs-"
_SEGMENT_NAME = re.compile(rf"([0-9]+)(?:{re.escape(_RUNS_TAG)}([0-9]+)-([0-9]+))?\.parquet")
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


def segment_path(experiment: str, date: str, writer: str, first_seq: int, runs: tuple[int, int] | None = None) -> str:
    """Path of the raw segment whose first event has sequence number `first_seq`.

    Args:
        experiment: its experiment.
        date: its date partition (YYYY-MM-DD).
        writer: its writer id.
        first_seq: the sequence number of its first event.
        runs: the lowest and highest run number of its events, named in the file name (None:
            not named, the segment may hold any run).

    Raises:
        InvalidNameError: `writer` cannot be a directory name (such as `..`).
        ValueError: `runs` is not two run numbers, the first not above the second.
    """
    validate_writer(writer)
    suffix = ""
    if runs is not None:
        low, high = runs
        if not 0 <= low <= high:
            raise ValueError(f"a segment's run range must be two run numbers 0 <= low <= high, got {runs!r}")
        suffix = f"{_RUNS_TAG}{low}-{high}"
    return f"{partition_dir(SEGMENTS, experiment, date)}/{writer}/{first_seq:020d}{suffix}.parquet"


def parse_segment_name(name: str) -> tuple[int, tuple[int, int] | None] | None:
    """(first_seq, run range or None) of a raw segment's file name, or None if it is not one."""
    match = _SEGMENT_NAME.fullmatch(name)
    if match is None:
        return None
    seq, low, high = match.groups()
    runs = (int(low), int(high)) if low is not None else None
    if runs is not None and runs[0] > runs[1]:
        return None
    return int(seq), runs


def segment_runs(path: str) -> tuple[int, int] | None:
    """The run range a raw segment's name states (None: not stated, or not a raw segment)."""
    if not path.startswith(f"{SEGMENTS}/"):
        return None
    parsed = parse_segment_name(path.rsplit("/", 1)[-1])
    return parsed[1] if parsed is not None else None


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
