"""A snapshot: the exact list of files a reader should scan (DESIGN §3 "Read").

A snapshot is the latest manifest's compacted files plus every listed raw segment that manifest
does not cover. The reader lists `_manifest/`, reads the latest version, lists `seg/`, then lists
`_manifest/` again and starts over if a new version appeared meanwhile, so the manifest and the
listing belong together. The list is handed to polars explicitly: never a glob, because `cmp/`
holds orphans (files of compactions that lost or crashed) and covered files awaiting gc.

With an experiment name (not a pattern) only that experiment's partition prefix is listed.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from eventlog import layout, manifest
from eventlog.store import FileInfo, Store

__all__ = ["Snapshot", "list_segments", "take_snapshot"]

_ATTEMPTS = 10


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


def _matches(path: str, experiment: str) -> bool:
    if experiment in ("*", "all"):
        return True
    name = layout.experiment_of(path) or ""
    return fnmatch.fnmatchcase(name, experiment) if _is_pattern(experiment) else name == experiment


def list_segments(store: Store, experiment: str = "*") -> list[FileInfo]:
    """Every raw segment of the experiments matching `experiment` (a name or glob), covered or not."""
    if experiment in ("*", "all") or _is_pattern(experiment):
        prefix = layout.SEGMENTS
    else:
        prefix = f"{layout.SEGMENTS}/experiment={layout.encode_name(experiment)}"
    return [f for f in store.find(prefix) if f.path.endswith(".parquet") and _matches(f.path, experiment)]


def take_snapshot(store: Store, experiment: str = "*") -> Snapshot:
    """The files a reader should scan now for experiments matching `experiment` (a name or glob).

    Returns:
        A `Snapshot`: the latest manifest's compacted files of those experiments plus their raw
        segments that manifest does not cover, and the manifest version it used (None: none yet).
    """
    version = manifest.latest_version(store)
    for attempt in range(_ATTEMPTS):
        try:
            current = manifest.read_manifest(store, version)
        except FileNotFoundError:  # superseded and removed by gc since we listed: list again
            version = manifest.latest_version(store)
            continue
        segments = list_segments(store, experiment)
        again = manifest.latest_version(store)
        if again != version and attempt < _ATTEMPTS - 1:
            version = again  # the manifest moved while we listed: start over
            continue
        covered = manifest.covered_set(current)
        compacted = [FileInfo(f.path, f.bytes, current.created) for f in current.files if _matches(f.path, experiment)]
        visible = compacted + [s for s in segments if s.path not in covered]
        return Snapshot(store=store, files=visible, manifest_version=current.version or None)
    raise FileNotFoundError(
        f"could not take a snapshot of {store.uri}: the latest manifest kept disappearing "
        "(is gc running with a grace period of 0?); try again"
    )
