"""A snapshot: the exact list of files a reader should scan (DESIGN §3 "Read").

A snapshot is the latest manifest's compacted files plus every listed raw segment that manifest
does not cover. The reader lists `_manifest/`, reads the latest version, lists `seg/`, then lists
`_manifest/` again and starts over if a new version appeared meanwhile, so the manifest and the
listing belong together. The list is handed to polars explicitly: never a glob, because `cmp/`
holds orphans (files of compactions that lost or crashed) and covered files awaiting gc.

The experiment filter takes every form of `query.filters`; with a plain name only that
experiment's partition prefix is listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eventlog.core import layout, manifest
from eventlog.core.store import FileInfo, Store
from query.filters import Filter, is_everything, is_pattern, text_matcher

__all__ = ["Snapshot", "list_segments", "take_snapshot"]

_ATTEMPTS = 10


@dataclass(frozen=True)
class Snapshot:
    """The files visible to one read, relative to the store root.

    Attributes:
        store: the store.
        files: the files to scan.
        manifest_version: the manifest version the files come from (None: no manifest yet).
        compacted_runs: the run range the manifest states for each compacted file that has one.
    """

    store: Store
    files: list[FileInfo] = field(default_factory=list)
    manifest_version: int | None = None
    compacted_runs: dict[str, tuple[int, int]] = field(default_factory=dict)

    def runs_of(self, path: str) -> tuple[int, int] | None:
        """The lowest and highest run a file holds, as its name (raw segments) or the manifest
        (compacted files) states it; None if neither does: the file may hold any run."""
        return layout.segment_runs(path) or self.compacted_runs.get(path)

    @property
    def paths(self) -> list[str]:
        """The visible files' paths, relative to the root."""
        return [f.path for f in self.files]

    @property
    def urls(self) -> list[str]:
        """The visible files as URLs other engines (polars, DuckDB) can open."""
        return [self.store.url(f.path) for f in self.files]


def _segments_prefix(experiment: Any) -> str:
    """The listing prefix: one experiment's partition for a plain name, all of `seg/` otherwise."""
    if isinstance(experiment, str) and not is_everything(experiment) and not is_pattern(experiment):
        return layout.experiment_dir(layout.SEGMENTS, experiment)
    return layout.SEGMENTS


def _of_experiment(files: list[FileInfo], experiment: Any) -> list[FileInfo]:
    if is_everything(experiment):
        return files
    matches = text_matcher(experiment)
    return [f for f in files if matches(layout.experiment_of(f.path) or "")]


def list_segments(store: Store, experiment: Filter = "*") -> list[FileInfo]:
    """Every raw segment of the experiments matching `experiment`, covered or not.

    Args:
        store: the store.
        experiment: an experiment filter (a name, a list, `*`, a glob or `re:`).

    Returns:
        The segments' FileInfos.

    Raises:
        InvalidFilterError: a `re:` regex that does not compile.
    """
    listed = [f for f in store.find(_segments_prefix(experiment)) if f.path.endswith(".parquet")]
    return _of_experiment(listed, experiment)


def take_snapshot(store: Store, experiment: Filter = "*") -> Snapshot:
    """The files a reader should scan now for the experiments matching `experiment`.

    Args:
        store: the store.
        experiment: an experiment filter (a name, a list, `*`, a glob or `re:`); only a plain
            name narrows the listing to one partition.

    Returns:
        A `Snapshot`: the latest manifest's compacted files of those experiments plus their raw
        segments that manifest does not cover, and the manifest version it used (None: none yet).

    Raises:
        InvalidFilterError: a `re:` regex that does not compile.
        FileNotFoundError: the latest manifest kept disappearing (gc with no grace period).
    """
    wanted = None if is_everything(experiment) else text_matcher(experiment)  # only those experiments' parts are read
    version = manifest.latest_version(store)
    for attempt in range(_ATTEMPTS):
        try:
            current = manifest.read_manifest(store, version, wanted)
        except FileNotFoundError:  # superseded and removed by gc since we listed: list again
            version = manifest.latest_version(store)
            continue
        segments = list_segments(store, experiment)
        again = manifest.latest_version(store)
        if again != version and attempt < _ATTEMPTS - 1:
            version = again  # the manifest moved while we listed: start over
            continue
        covered = manifest.covered_set(current)
        compacted = _of_experiment([FileInfo(f.path, f.bytes, current.created) for f in current.files], experiment)
        visible = compacted + [s for s in segments if s.path not in covered]
        ranges = {f.path: f.runs for f in current.files if f.runs is not None}
        return Snapshot(store=store, files=visible, manifest_version=current.version or None, compacted_runs=ranges)
    raise FileNotFoundError(
        f"could not take a snapshot of {store.uri}: the latest manifest kept disappearing "
        "(is gc running with a grace period of 0?); try again"
    )
