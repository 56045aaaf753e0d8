"""A snapshot: the exact list of files a reader should scan (DESIGN §3 "Read").

Raw segments are listed under `seg/`; with an experiment name (not a pattern) only that
experiment's partition prefix is listed. The list is handed to polars explicitly: never a glob,
because a glob would also pick up files a reader must not see.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from eventlog import layout
from eventlog.store import FileInfo, Store

__all__ = ["Snapshot", "take_snapshot"]


@dataclass(frozen=True)
class Snapshot:
    """The files visible to one read, relative to the store root."""

    store: Store
    files: list[FileInfo] = field(default_factory=list)
    manifest_version: int | None = None

    @property
    def paths(self) -> list[str]:
        """The visible files' paths, relative to the root."""
        return [f.path for f in self.files]

    @property
    def urls(self) -> list[str]:
        """The visible files as URLs other engines (polars, DuckDB) can open."""
        return [self.store.url(f.path) for f in self.files]


def _is_pattern(value: str) -> bool:
    return any(ch in value for ch in "*?[")


def list_segments(store: Store, experiment: str = "*") -> list[FileInfo]:
    """Every raw segment of the experiments matching `experiment` (a name or glob)."""
    if experiment in ("*", "all"):
        prefix = layout.SEGMENTS
    elif not _is_pattern(experiment):
        prefix = f"{layout.SEGMENTS}/experiment={layout.encode_name(experiment)}"
    else:
        prefix = layout.SEGMENTS
    files = [f for f in store.find(prefix) if f.path.endswith(".parquet")]
    if _is_pattern(experiment) and experiment not in ("*", "all"):
        files = [f for f in files if fnmatch.fnmatchcase(layout.experiment_of(f.path) or "", experiment)]
    return files


def take_snapshot(store: Store, experiment: str = "*") -> Snapshot:
    """The files a reader should scan now for experiments matching `experiment` (a name or glob)."""
    return Snapshot(store=store, files=list_segments(store, experiment))
