"""Manifests: the compactor's commits, `_manifest/<version:020>.json` (DESIGN §3).

A manifest version is a *full* snapshot of what compaction has done so far: the compacted files
readers must scan, and every raw segment those files cover (readers skip covered segments). A new
version is committed with create-if-absent (`Store.create`: `os.link` locally, `If-None-Match: *`
on S3), so exactly one compactor wins each version number; nothing is ever rewritten.

Covered segments are kept forever (a few bytes each: per partition and writer, the delta-encoded
first sequence numbers of the segment names). They are tombstones: if gc deleted a covered segment
and a spool recovery published it again under the same name, readers still skip it.

A version is sharded by experiment, so a read loads only the experiments it touches: the version
file is a small root naming one *part* per experiment (`_manifest/parts/experiment=<e>/part-<sha>.json`,
the experiment's compacted files and tombstones), and a commit writes new parts only for the
experiments it changed; the others are named again. Parts are content-addressed and written
before the root, so the root's create-if-absent stays the one commit point; a part no version
uses any more is deleted by gc. A version written before sharding (`files` and `covered` inline,
no `parts`) is read as one whole; the next commit on top of it writes parts.

Manifests are immutable, so parsed roots and parts are cached in-process.
"""

from __future__ import annotations

import hashlib
import itertools
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from eventlog.core import layout
from eventlog.core.store import FileInfo, Store

__all__ = [
    "CompactedFile",
    "Manifest",
    "covered_set",
    "latest_version",
    "list_parts",
    "list_versions",
    "load_latest",
    "manifest_path",
    "part_paths",
    "partition_of",
    "read_manifest",
    "segment_id",
    "version_of",
]

_CACHE_SIZE = 8
_PART_CACHE_SIZE = 512
_PARTS = f"{layout.MANIFESTS}/parts"
_roots: OrderedDict[tuple[str, int], _Root] = OrderedDict()
_parts: OrderedDict[tuple[str, str], _Part] = OrderedDict()


class CompactedFile(msgspec.Struct, frozen=True, omit_defaults=True):
    """One compacted file a manifest makes visible.

    Attributes:
        path: path relative to the store root (`cmp/experiment=<e>/date=<d>/<version>-<uuid>.parquet`).
        events: number of events in it.
        bytes: its size in bytes.
        runs: the lowest and highest run number of its events, so that a reader of some runs
            skips the files holding none of them unopened; None: not stated (files compacted
            before ranges were recorded, or holding an event without a run), open it always.
    """

    path: str
    events: int
    bytes: int
    runs: tuple[int, int] | None = None

    @property
    def partition(self) -> str:
        """Its hive partition, `experiment=<e>/date=<d>`."""
        return partition_of(self.path)


class Manifest(msgspec.Struct):
    """One manifest version: the compacted files to read and the raw segments they cover.

    Attributes:
        version: the version number (0: no manifest yet).
        commit: a unique id of the commit attempt (tells an unknown-outcome retry whether it won).
        created: wall-clock time of the commit (epoch seconds; informational).
        files: the visible compacted files (of the experiments read, see `read_manifest`).
        covered: partition -> writer -> delta-encoded first sequence numbers of covered segments.
        parts: experiment -> path of its committed part, for the experiments this version has
            not changed since it was read (a commit writes parts for the others).
        complete: True if every experiment was read (only a complete manifest can evolve).
    """

    version: int = 0
    commit: str = ""
    created: float = 0.0
    files: list[CompactedFile] = []
    covered: dict[str, dict[str, list[int]]] = {}
    parts: dict[str, str] = {}
    complete: bool = True

    def covered_ids(self, partitions: Iterable[str] | None = None) -> set[tuple[str, str, int]]:
        """Every covered segment as (partition, writer, first_seq); only those of `partitions` if given.

        The tombstones of all history add up (they are never dropped): decode only what is needed.
        """
        chosen = self.covered if partitions is None else {p: self.covered[p] for p in partitions if p in self.covered}
        out: set[tuple[str, str, int]] = set()
        for partition, writers in chosen.items():
            for writer, deltas in writers.items():
                seq = 0
                for delta in deltas:
                    seq += delta
                    out.add((partition, writer, seq))
        return out

    def evolve(
        self,
        *,
        add_files: Iterable[CompactedFile] = (),
        remove_files: Iterable[str] = (),
        add_covered: Iterable[tuple[str, str, int]] = (),
        expire_covered: Iterable[tuple[str, str, int]] = (),
    ) -> Manifest:
        """The next version: this one with files added/removed, segments newly covered, tombstones expired.

        `expire_covered` drops tombstones (see `eventlog.core.tombstones` for when that is safe).

        Returns:
            A new `Manifest` with version + 1 and a fresh commit id (not yet committed).

        Raises:
            ValueError: this manifest was read for some experiments only.
        """
        self._check_complete()
        removed = set(remove_files)
        added_files = list(add_files)
        files = [f for f in self.files if f.path not in removed] + added_files
        added = set(add_covered)
        expired = set(expire_covered)
        changed = {
            layout.experiment_of(p)
            for p in [*removed, *(f.path for f in added_files), *(p for p, _, _ in added | expired)]
        }
        # Only the partitions gaining segments are decoded and encoded again; the others are copied.
        partitions = {partition for partition, _, _ in added | expired}
        touched = _encode_covered((self.covered_ids(partitions) | added) - expired)
        kept = {p: w for p, w in self.covered.items() if p not in partitions}  # a partition left empty goes
        return Manifest(
            version=self.version + 1,
            commit=uuid.uuid4().hex,
            created=time.time(),
            files=sorted(files, key=lambda f: f.path),
            covered=dict(sorted({**kept, **touched}.items())),
            parts={e: path for e, path in self.parts.items() if e not in changed},
        )

    def without_experiment(self, experiment: str) -> Manifest:
        """The next version without the compacted files and covered segments of `experiment`.

        Returns:
            A new `Manifest` with version + 1 and a fresh commit id (not yet committed).

        Raises:
            ValueError: this manifest was read for some experiments only.
        """
        self._check_complete()
        return Manifest(
            version=self.version + 1,
            commit=uuid.uuid4().hex,
            created=time.time(),
            files=[f for f in self.files if layout.experiment_of(f.partition) != experiment],
            covered={p: w for p, w in self.covered.items() if layout.experiment_of(p) != experiment},
            parts={e: path for e, path in self.parts.items() if e != experiment},
        )

    def encode(self) -> tuple[bytes, dict[str, bytes]]:
        """The root's JSON bytes, and the parts it names that are new (path -> JSON bytes).

        Raises:
            ValueError: this manifest was read for some experiments only.
        """
        self._check_complete()
        files: dict[str, list[CompactedFile]] = {}
        covered: dict[str, dict[str, dict[str, list[int]]]] = {}
        for f in self.files:
            files.setdefault(_experiment(f.partition), []).append(f)
        for partition, writers in self.covered.items():
            covered.setdefault(_experiment(partition), {})[partition] = writers
        parts: dict[str, str] = {}
        new: dict[str, bytes] = {}
        for experiment in sorted(files.keys() | covered.keys()):
            if experiment in self.parts:
                parts[experiment] = self.parts[experiment]
                continue
            body = msgspec.json.encode(_Part(files.get(experiment, []), covered.get(experiment, {})))
            path = f"{layout.experiment_dir(_PARTS, experiment)}/part-{hashlib.sha256(body).hexdigest()[:32]}.json"
            parts[experiment] = path
            new[path] = body
        root = _Root(self.version, self.commit, self.created, parts=parts)
        return msgspec.json.encode(root), new

    def _check_complete(self) -> None:
        if not self.complete:
            raise ValueError(f"manifest version {self.version} was read for some experiments only; read it whole to change it")


class _Part(msgspec.Struct):
    """One experiment's share of a version: its compacted files and tombstones."""

    files: list[CompactedFile] = []
    covered: dict[str, dict[str, list[int]]] = {}


class _Root(msgspec.Struct):
    """A version file: `parts` for a sharded version; `files` and `covered` inline for one written before."""

    version: int = 0
    commit: str = ""
    created: float = 0.0
    files: list[CompactedFile] = []
    covered: dict[str, dict[str, list[int]]] = {}
    parts: dict[str, str] | None = None


def _experiment(partition: str) -> str:
    return layout.experiment_of(partition) or ""


class _Covered:
    """Fast membership test for covered segment paths of one manifest."""

    def __init__(self, manifest: Manifest) -> None:
        self.ids = manifest.covered_ids()

    def __contains__(self, path: str) -> bool:
        found = segment_id(path)
        return found is not None and found in self.ids


def covered_set(manifest: Manifest) -> _Covered:
    """An object answering `path in covered_set(m)` for raw segment paths."""
    return _Covered(manifest)


def _encode_covered(ids: set[tuple[str, str, int]]) -> dict[str, dict[str, list[int]]]:
    grouped: dict[str, dict[str, list[int]]] = {}
    for partition, writer, seq in ids:
        grouped.setdefault(partition, {}).setdefault(writer, []).append(seq)
    out: dict[str, dict[str, list[int]]] = {}
    for partition in sorted(grouped):
        out[partition] = {}
        for writer in sorted(grouped[partition]):
            seqs = sorted(grouped[partition][writer])
            out[partition][writer] = [seqs[0]] + [b - a for a, b in itertools.pairwise(seqs)]
    return out


def partition_of(path: str) -> str:
    """The hive partition (`experiment=<e>/date=<d>`) of a segment or compacted file path."""
    parts = path.split("/")
    return f"{parts[1]}/{parts[2]}"


def segment_id(path: str) -> tuple[str, str, int] | None:
    """(partition, writer, first_seq) of a raw segment path, or None if it is not one.

    The run range a name may state is not part of the id: one writer's events from one first
    sequence number are one segment whatever its name says.
    """
    parts = path.split("/")
    if len(parts) != 5 or parts[0] != layout.SEGMENTS:
        return None
    parsed = layout.parse_segment_name(parts[4])
    if parsed is None:
        return None
    return f"{parts[1]}/{parts[2]}", parts[3], parsed[0]


def manifest_path(version: int) -> str:
    """The path of manifest `version`, relative to the store root."""
    return f"{layout.MANIFESTS}/{version:020d}.json"


def version_of(path: str) -> int | None:
    """The version number of a manifest path, or None if the path is not a manifest."""
    name = path.rsplit("/", 1)[-1]
    stem = name[: -len(".json")] if name.endswith(".json") else ""
    return int(stem) if stem.isdigit() else None


def list_versions(store: Store) -> list[FileInfo]:
    """Every manifest file in the store (with storage mtimes), oldest version first."""
    found = [f for f in store.find(layout.MANIFESTS) if f.path.count("/") == 1 and version_of(f.path) is not None]
    return sorted(found, key=lambda f: version_of(f.path) or 0)


def latest_version(store: Store) -> int:
    """The highest committed manifest version (0 if there is none)."""
    versions = list_versions(store)
    return (version_of(versions[-1].path) or 0) if versions else 0


def read_manifest(store: Store, version: int, experiments: Callable[[str], bool] | None = None) -> Manifest:
    """Read and parse manifest `version` (0 gives the empty manifest).

    Args:
        store: the store.
        version: the version number.
        experiments: read only the parts of experiments for which this returns True (None: all).
            The result is then not `complete`: it can be read, not evolved.

    Raises:
        FileNotFoundError: that version (or a part it names) does not exist (never committed, or removed by gc).
        msgspec.DecodeError: the file is not a valid manifest.
    """
    if version == 0:
        return Manifest()
    root = _read_root(store, version)
    if root.parts is None:  # written before sharding: one whole
        return Manifest(root.version, root.commit, root.created, root.files, root.covered)
    chosen = {e: p for e, p in root.parts.items() if experiments is None or experiments(e)}
    files: list[CompactedFile] = []
    covered: dict[str, dict[str, list[int]]] = {}
    for path in chosen.values():
        part = _read_part(store, path)
        files.extend(part.files)
        covered.update(part.covered)
    return Manifest(
        root.version,
        root.commit,
        root.created,
        sorted(files, key=lambda f: f.path),
        dict(sorted(covered.items())),
        parts=dict(root.parts),
        complete=len(chosen) == len(root.parts),
    )


def part_paths(store: Store, version: int) -> list[str]:
    """The part files version `version` names (none for a version written before sharding).

    Raises:
        FileNotFoundError: that version does not exist.
    """
    if version == 0:
        return []
    return sorted((_read_root(store, version).parts or {}).values())


def list_parts(store: Store) -> list[FileInfo]:
    """Every manifest part in the store, with storage mtimes (gc deletes those no version in use names)."""
    return store.find(_PARTS)


def _read_root(store: Store, version: int) -> _Root:
    return _cached(_roots, (store.uri, version), _CACHE_SIZE, lambda: _decode(store, manifest_path(version), _Root))


def _read_part(store: Store, path: str) -> _Part:
    return _cached(_parts, (store.uri, path), _PART_CACHE_SIZE, lambda: _decode(store, path, _Part))


def _cached(cache: OrderedDict[Any, Any], key: Any, size: int, load: Callable[[], Any]) -> Any:
    found = cache.get(key)
    if found is not None:
        cache.move_to_end(key)
        return found
    found = cache[key] = load()
    while len(cache) > size:
        cache.popitem(last=False)
    return found


def _decode(store: Store, path: str, kind: type[Any]) -> Any:
    try:
        return msgspec.json.decode(store.read(path), type=kind)
    except msgspec.DecodeError as exc:  # every reader, compaction and gc stops here: say which file
        raise msgspec.DecodeError(
            f"{path} in {store.uri} is not a valid manifest ({exc}); it is damaged or was not written by eventlog: "
            "restore it from a backup"
        ) from exc


def load_latest(store: Store, *, attempts: int = 10) -> Manifest:
    """The latest manifest (the empty one, version 0, if none was committed yet).

    A version listed but gone when read (gc removed a superseded one) makes it list again.

    Raises:
        FileNotFoundError: the latest version kept disappearing (gc with a zero grace period).
    """
    for _ in range(attempts - 1):
        try:
            return read_manifest(store, latest_version(store))
        except FileNotFoundError:
            continue
    return read_manifest(store, latest_version(store))
