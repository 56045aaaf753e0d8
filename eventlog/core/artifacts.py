"""Artifacts: values, files and objects kept with a run (DESIGN §2, §10; omega-ml's semantics).

`log_artifact(obj, name)` stores:

- a **JSON value** (dict/list/str/int/float/bool/None, recursively) inline: the event's reference
  holds the value itself (`format="json"`);
- a **file** given as a `pathlib.Path` (any `os.PathLike`) as a copy beside the log
  (`format="file"`), streamed in 8 MiB chunks and hashed on the way, so a 200 MB file is never
  held in memory;
- **any other object** pickled with cloudpickle (`format="pickle"`; it also pickles lambdas and
  classes defined in `__main__`, and plain `pickle.loads` reads what it writes for ordinary
  objects).

Payloads live under `artifacts/<experiment>/<run>/<uuid>/<file name or name.pkl>` (see `layout.artifact_dir`); a
fresh uuid per call means two processes never write the same object. The reference stored in the
`artifact` event is a dict with `format`, `name`, `size` (bytes), `sha256` (of the payload, or of
the JSON text for inline values) and, for payloads, `path` (relative to the store root).

A plain `str` is a JSON value, never a path: `log_artifact("model.pt", ...)` keeps the text, and
`log_artifact(Path("model.pt"), ...)` keeps the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any, BinaryIO

from eventlog.core import layout
from eventlog.core.artifact_refs import check_reference
from eventlog.core.artifact_trust import sign, verify
from eventlog.core.backends import fsync_dir, make_dirs_durably
from eventlog.core.store import Store
from eventlog.errors import ArtifactCorruptError, UnsafeArtifactError

__all__ = ["ArtifactCorruptError", "restore_artifact", "restore_artifacts", "store_artifact"]

CHUNK = 8 * 2**20
#: Where files from non-local stores are downloaded to (`$EVENTLOG_ARTIFACT_CACHE` overrides).
CACHE_ENV = "EVENTLOG_ARTIFACT_CACHE"


def _is_json_value(obj: Any) -> bool:
    """True if `obj` round-trips through JSON unchanged (no tuples, sets, numpy, ...)."""
    if obj is None or isinstance(obj, (str, bool, int, float)):
        return True
    if isinstance(obj, list):
        return all(_is_json_value(v) for v in obj)
    if isinstance(obj, dict):
        return all(isinstance(k, str) and _is_json_value(v) for k, v in obj.items())
    return False


def _payload_path(experiment: str, run: int, leaf: str) -> str:
    return f"{layout.artifact_dir(experiment, run)}/{uuid.uuid4().hex}/{layout.encode_name(leaf)}"


def store_artifact(store: Store, experiment: str, run: int, name: str, obj: Any) -> dict[str, Any]:
    """Keep `obj` for a run and return the reference that the `artifact` event holds.

    Args:
        store: the store to write payloads into.
        experiment: the experiment name.
        run: the run number.
        name: the artifact's name (its event key).
        obj: a file or a directory (an `os.PathLike`, or a `str` naming an existing one: copied,
            a directory with its whole tree, as MLflow's `log_artifacts`), a JSON value (kept
            inline), or any picklable object.

    Returns:
        A JSON-able dict: `format` (`json`, `file`, `dir` or `pickle`), `name`, `size`, `sha256`,
        and `data` (json), `path` (file, pickle; relative to the store root) plus `filename`
        (file), or `dirname` and `files` (dir: each file's `relpath`, `path`, `size`, `sha256`).

    Raises:
        FileNotFoundError: `obj` is a path that does not exist.
        TypeError: `obj` cannot be pickled.
    """
    if isinstance(obj, str) and obj and os.path.exists(obj):
        obj = Path(obj)  # a string naming a file or directory is that file or directory
    if _is_json_value(obj):
        text = json.dumps(obj, ensure_ascii=False).encode()
        return {"format": "json", "name": name, "data": obj, "size": len(text), "sha256": hashlib.sha256(text).hexdigest()}
    if isinstance(obj, os.PathLike):
        return _store_file(store, experiment, run, name, Path(os.fspath(obj)))
    return _store_pickle(store, experiment, run, name, obj)


def _store_pickle(store: Store, experiment: str, run: int, name: str, obj: Any) -> dict[str, Any]:
    import cloudpickle

    try:
        data = cloudpickle.dumps(obj)
    except Exception as exc:  # pickling raises TypeError, PicklingError, AttributeError, ...
        raise TypeError(
            f"artifact {name!r}: cannot pickle {type(obj).__name__} ({exc}); save it to a file and "
            "log the file with log_artifact(pathlib.Path(...), name)"
        ) from exc
    path = _payload_path(experiment, run, f"{name}.pkl")
    store.create(path, data)
    sha256 = hashlib.sha256(data).hexdigest()
    ref = {"format": "pickle", "name": name, "path": path, "size": len(data), "sha256": sha256, "pickler": "cloudpickle"}
    signature = sign(sha256)
    return ref if signature is None else {**ref, "signature": signature}


def _store_tree(store: Store, experiment: str, run: int, name: str, source: Path) -> dict[str, Any]:
    """Every file under the directory `source`, each stored as a file artifact, listed by relative path."""
    files = []
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        stored = _store_file(store, experiment, run, name, path)
        files.append({"relpath": path.relative_to(source).as_posix(), **{k: stored[k] for k in ("path", "size", "sha256")}})
    listing = json.dumps(files, sort_keys=True).encode()
    total = sum(f["size"] for f in files)
    return {"format": "dir", "name": name, "dirname": source.name, "files": files, "size": total, "sha256": hashlib.sha256(listing).hexdigest()}


def _store_file(store: Store, experiment: str, run: int, name: str, source: Path) -> dict[str, Any]:
    if source.is_dir():
        return _store_tree(store, experiment, run, name, source)
    if not source.is_file():
        raise FileNotFoundError(f"artifact {name!r}: no file at {source}; check the path (relative to {os.getcwd()})")
    path = _payload_path(experiment, run, source.name)
    full = store.full_path(path)
    if store.is_local:
        # Write beside the final name and rename, so that a crash never leaves a partial payload under
        # it; then make the name durable, before the artifact event that points at it is logged.
        make_dirs_durably(os.path.dirname(full))
        tmp = f"{full}.{uuid.uuid4().hex}.tmp"
        try:
            with open(source, "rb") as src, open(tmp, "wb") as dst:
                size, sha256 = _copy(src, dst)
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(tmp, full)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        fsync_dir(os.path.dirname(full))
    else:
        # An object store makes an upload visible only when it completes (a multipart upload for
        # large files), so streaming straight to the final name is safe.
        store.fs.makedirs(full.rsplit("/", 1)[0], exist_ok=True)
        with open(source, "rb") as src, store.fs.open(full, "wb", block_size=CHUNK) as dst:
            size, sha256 = _copy(src, dst)
    return {"format": "file", "name": name, "path": path, "filename": source.name, "size": size, "sha256": sha256}


def _copy(src: BinaryIO, dst: BinaryIO | None) -> tuple[int, str]:
    """Stream `src` into `dst` (None: nowhere) `CHUNK` bytes at a time; returns the size and sha256 of what was read."""
    digest = hashlib.sha256()
    size = 0
    for chunk in iter(lambda: src.read(CHUNK), b""):
        digest.update(chunk)
        size += len(chunk)
        if dst is not None:
            dst.write(chunk)
    return size, digest.hexdigest()


def _hash_file(path: str | Path) -> tuple[int, str]:
    with open(path, "rb") as f:
        return _copy(f, None)


def _check(ref: dict[str, Any], size: int, sha256: str, where: str) -> None:
    if size != ref.get("size") or sha256 != ref.get("sha256"):
        raise ArtifactCorruptError(
            f"artifact {ref.get('name')!r} at {where}: expected {ref.get('size')} bytes with sha256 {ref.get('sha256')}, "
            f"found {size} bytes with sha256 {sha256}; the payload was changed or truncated, log it again"
        )


def _missing(ref: dict[str, Any], where: str) -> ArtifactCorruptError:
    return ArtifactCorruptError(
        f"artifact {ref.get('name')!r}: payload {where} is missing (deleted from the store); it cannot be restored, log it again"
    )


def _cache_dir(dest: str | Path | None) -> Path:
    if dest is not None:
        return Path(dest)
    return Path(os.environ.get(CACHE_ENV) or Path(tempfile.gettempdir()) / "eventlog-artifacts")


def _restore_file(store: Store, ref: dict[str, Any], dest: str | Path | None) -> Path:
    full = store.full_path(ref["path"])
    if store.is_local and dest is None:
        # The payload is already a local file: hand out its path (read it; do not modify it).
        if not os.path.isfile(full):
            raise _missing(ref, full)
        _check(ref, *_hash_file(full), where=full)
        return Path(full)
    return _download(store, ref, _cache_dir(dest) / ref["sha256"] / ref.get("filename", "artifact"))


def _download(store: Store, ref: dict[str, Any], target: Path) -> Path:
    """Copy the payload of `ref` (a file) to `target`, checking its size and hash; kept if already there."""
    full = store.full_path(ref["path"])
    if target.is_file() and _hash_file(target) == (ref["size"], ref["sha256"]):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        try:
            # Ranged reads of CHUNK bytes: s3fs's get_file() was measured to hold the whole object in memory.
            with store.fs.open(full, "rb", block_size=CHUNK, cache_type="none") as src, open(tmp, "wb") as dst:
                found = _copy(src, dst)  # hashed on the way: the download is not read a second time
        except FileNotFoundError as exc:
            raise _missing(ref, store.url(ref["path"])) from exc
        _check(ref, *found, where=store.url(ref["path"]))
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def restore_artifact(
    store: Store,
    ref: dict[str, Any],
    *,
    experiment: str,
    run: int,
    dest: str | Path | None = None,
    allow_pickle: bool | None = None,
) -> Any:
    """The object one artifact reference of run `run` of `experiment` points to.

    Args:
        store: the store the payload lives in.
        ref: the reference (the decoded `value_json` of an `artifact` event).
        experiment: the experiment of the event (its payload must lie in that run's artifact area).
        run: the run of the event.
        dest: directory to download files into (default: the payload itself for a local store,
            else `$EVENTLOG_ARTIFACT_CACHE` or `<tmp>/eventlog-artifacts`, keyed by sha256).
        allow_pickle: None (default) unpickles only pickles signed by this user's key (see
            `eventlog.core.artifact_trust`); True unpickles any; False none.

    Returns:
        The JSON value, the unpickled object, or a `pathlib.Path` of a local copy of the file.

    Raises:
        ArtifactCorruptError: the payload is missing or does not match its size and hash.
        UnsafeArtifactError: the reference points outside the run's artifact area or its
            destination, or a pickle is not trusted under `allow_pickle`.
        ValueError: the reference has an unknown format.
    """
    check_reference(ref, experiment, run)
    kind = ref.get("format")
    if kind == "json":
        return ref.get("data")
    if kind == "file":
        return _restore_file(store, ref, dest)
    if kind == "dir":
        return _restore_tree(store, ref, dest)
    if kind == "pickle":
        return _unpickle(store, ref, allow_pickle)
    raise ValueError(f"artifact {ref.get('name')!r}: unknown format {kind!r} (known: json, file, dir, pickle)")


def _unpickle(store: Store, ref: dict[str, Any], allow_pickle: bool | None) -> Any:
    trusted = allow_pickle is True or (allow_pickle is None and verify(str(ref.get("sha256")), ref.get("signature")))
    if not trusted:
        why = "allow_pickle=False" if allow_pickle is False else "it was not signed with your key (someone else logged it)"
        raise UnsafeArtifactError(
            f"artifact {ref.get('name')!r} is a pickle, and unpickling runs its writer's code; not loaded because {why}. "
            "If you trust whoever writes to this store, pass allow_pickle=True (see docs/logging.md#artifacts)"
        )
    import cloudpickle

    try:
        data = store.read(ref["path"])
    except FileNotFoundError as exc:
        raise _missing(ref, store.url(ref["path"])) from exc
    _check(ref, len(data), hashlib.sha256(data).hexdigest(), where=store.url(ref["path"]))
    return cloudpickle.loads(data)


def _restore_tree(store: Store, ref: dict[str, Any], dest: str | Path | None) -> Path:
    """A local copy of a directory artifact: `<dest or cache>/<sha256>/<dirname>/<relpath>...`.

    Raises:
        ArtifactCorruptError: a file is missing or changed.
    """
    root = _cache_dir(dest) / ref["sha256"] / ref.get("dirname", "artifact")
    for entry in ref.get("files", []):
        parts = str(entry["relpath"]).split("/")  # each part checked by check_reference
        _download(store, {**entry, "name": ref.get("name")}, root.joinpath(*parts))
    return root


def restore_artifacts(
    store: Store, frame: Any, *, dest: str | Path | None = None, allow_pickle: bool | None = None
) -> list[Any]:
    """The objects referenced by the `artifact` events in `frame` (a polars DataFrame), in order.

    Args:
        store: the store the payloads live in.
        frame: rows of `artifact` events with `experiment`, `run` and `value_json` columns (as
            `data()` returns them).
        dest: where to download files (see `restore_artifact`).
        allow_pickle: which pickles to unpickle (see `restore_artifact`).

    Returns:
        One object per row: JSON values, unpickled objects, and files as local `pathlib.Path`s.

    Raises:
        ArtifactCorruptError: a payload is missing or was changed.
        UnsafeArtifactError: a reference points outside its run's area, or a pickle is not trusted.
    """
    rows = frame.select("experiment", "run", "value_json").iter_rows()
    return [
        restore_artifact(store, json.loads(text), experiment=experiment, run=run, dest=dest, allow_pickle=allow_pickle)
        for experiment, run, text in rows
        if text is not None
    ]
