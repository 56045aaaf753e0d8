"""A store: a root directory on any fsspec filesystem, with the few operations the log needs.

The storage interface is deliberately tiny (STYLE §3): `create` (create-if-absent, the only way
anything is ever written), `read`, `find`, `delete`. How each filesystem makes create-if-absent
atomic lives in `eventlog.core.backends`.

The embedded default store is `./.eventlog`: a hidden name that can never be imported, so it
neither shadows the `eventlog` package nor is shadowed by it (Aim's `.aim` is the precedent).
Stores made before that default, in `./eventlog`, are still found (with a warning saying how to
move them).
"""

from __future__ import annotations

import logging
import os
import posixpath
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import fsspec

from eventlog.core.backends import create_generic, create_local, create_s3, fast_s3_timestamps, fsync_dir, list_s3
from eventlog.env import EVENTLOG_URI
from eventlog.errors import StoreUnavailableError

__all__ = ["CLOCK_PROBES", "DEFAULT_URI", "LEGACY_DEFAULT_URI", "FileInfo", "Store", "open_store", "resolve_uri"]

#: The embedded default store, when neither a URI nor $EVENTLOG_URI is given.
DEFAULT_URI = "./.eventlog"
#: The default before it became hidden: a store there is still opened, with a warning.
LEGACY_DEFAULT_URI = "./eventlog"
#: Where `Store.now` writes its probe objects (each deleted right after it is read).
CLOCK_PROBES = "_clock"
_log = logging.getLogger("eventlog.store")


@dataclass(frozen=True)
class FileInfo:
    """One object in the store: path relative to the root, size in bytes, modification time (epoch s)."""

    path: str
    size: int
    mtime: float


class Store:
    """A store root on an fsspec filesystem (local disk, S3, memory, ...).

    Use `open_store(uri)` to make one. Paths given to the methods are relative to the root.
    """

    def __init__(self, uri: str, fs: Any, root: str) -> None:
        self.uri = uri
        self.fs = fs
        self.root = root.rstrip("/")
        protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        self.protocol: str = "file" if protocol in ("file", "local") else protocol
        self._unsynced_dirs: set[str] = set()  # local directories of names created with sync_name=False
        self._unsynced_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Store({self.uri!r})"

    @property
    def is_local(self) -> bool:
        """True when the store lives on the local disk (so os-level atomic operations apply)."""
        return self.protocol == "file"

    def full_path(self, path: str) -> str:
        """The filesystem path (no protocol) of a path relative to the root."""
        return f"{self.root}/{path}" if path else self.root

    def url(self, path: str) -> str:
        """A URL of `path` that other engines (polars, DuckDB) understand: a local path or `s3://...`."""
        full = self.full_path(path)
        return full if self.is_local else f"{self.protocol}://{full}"

    def create(self, path: str, data: bytes, *, sync_data: bool = True, sync_name: bool = True) -> None:
        """Write `data` at `path` only if nothing is there yet (atomic create-if-absent).

        On local disk the new file is made durable (its content, then its name) before this
        returns; `sync_data=False` makes only its name durable, so that after a power loss it
        exists but may be empty (for markers whose existence is what counts). `sync_name=False`
        leaves the name to the next `sync_pending()`, which `publish` calls before every segment:
        a segment never becomes durable before a name created earlier. Object stores are durable
        on return either way.

        Raises:
            AlreadyExistsError: the object exists (another writer won, or an earlier try landed).
            ValueError: `data` is empty (an empty create is not atomic on S3).
        """
        if not data:
            raise ValueError(f"refusing to create empty object {path!r}: an empty create-if-absent is not atomic on S3")
        full = self.full_path(path)
        if self.is_local:
            create_local(full, data, sync_data=sync_data, sync_name=sync_name)
            if not sync_name:
                self.sync_later(posixpath.dirname(path))
        elif self.protocol in ("s3", "s3a"):
            create_s3(self.fs, full, data)
        else:
            create_generic(self.fs, full, data)

    def sync_later(self, directory: str) -> None:
        """Have the next `sync_pending()` make the entries of local `directory` durable (no-op elsewhere)."""
        if self.is_local:
            with self._unsynced_lock:
                self._unsynced_dirs.add(directory)

    def sync_pending(self) -> None:
        """Make the names created with `sync_name=False` (and directories given to `sync_later`)
        durable across a power loss: one fsync per directory, however many names it got.

        Raises:
            OSError: a directory could not be synced (it stays pending).
        """
        if not self._unsynced_dirs:
            return
        with self._unsynced_lock:
            pending, self._unsynced_dirs = sorted(self._unsynced_dirs), set()
        for done, directory in enumerate(pending):
            try:
                fsync_dir(self.full_path(directory))
            except FileNotFoundError:
                continue  # deleted since (`clear`): nothing left to make durable
            except OSError:
                with self._unsynced_lock:
                    self._unsynced_dirs.update(pending[done:])
                raise

    def read(self, path: str) -> bytes:
        """Read a whole object. Raises FileNotFoundError if it does not exist."""
        data: bytes = self.fs.cat_file(self.full_path(path))
        return data

    def exists(self, path: str) -> bool:
        """True if an object (or directory) exists at `path`."""
        return bool(self.fs.exists(self.full_path(path)))

    def find(self, prefix: str, *, temporary: bool = False) -> list[FileInfo]:
        """Every object under `prefix` (recursively), sorted by path; [] if there is none.

        Temp files (`*.tmp`) of local writers in progress are left out; with `temporary=True`
        only they are listed (gc removes those a killed writer left behind).
        """
        base = self.full_path(prefix)
        if self.is_local:  # os.scandir: fsspec's local find stats every entry twice (10k segments: 1.1 s -> 0.1 s)
            return sorted(_find_local(base, len(self.root) + 1, temporary), key=lambda f: f.path)
        offset = len(self.root) + 1
        try:
            found = list_s3(self.fs, base) if self.protocol == "s3" else self._find_fsspec(base)
            infos = [FileInfo(full[offset:], size, mtime) for full, size, mtime in found if full.endswith(".tmp") == temporary]
        except FileNotFoundError:
            return []
        return sorted(infos, key=lambda f: f.path)

    def _find_fsspec(self, base: str) -> Iterator[tuple[str, int, float]]:
        """(full path, size, mtime) of the files fsspec's `find(base)` lists (not S3: `list_s3`)."""
        for full, info in self.fs.find(base, detail=True).items():
            if info.get("type") != "directory":
                yield full.split("://", 1)[-1], int(info.get("size") or 0), _mtime(info)

    def now(self) -> float:
        """The storage's clock, in epoch seconds: the mtime of a probe object written now.

        Storage timestamps (`find`'s mtimes) are set by this clock, not this machine's, which can
        be minutes or hours off (a laptop against a shared bucket). The probe, an object of one
        byte under `CLOCK_PROBES`, is deleted again before this returns.

        Raises:
            OSError: the probe could not be written or read (e.g. read-only credentials).
        """
        path = f"{CLOCK_PROBES}/{uuid.uuid4().hex}"
        self.create(path, b"t")
        try:
            return _mtime(self.fs.info(self.full_path(path)))
        finally:
            self.delete([path])

    def list_dir(self, prefix: str) -> list[str]:
        """Names of the direct children of `prefix` (files and directories); [] if there is none."""
        try:
            entries = self.fs.ls(self.full_path(prefix), detail=False)
        except FileNotFoundError:
            return []
        return sorted(str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries)

    def delete(self, paths: list[str]) -> None:
        """Delete objects; paths already gone are ignored."""
        for path in paths:
            try:
                self.fs.rm_file(self.full_path(path))
            except FileNotFoundError:
                pass

    def remove_empty_dirs(self, prefix: str) -> None:
        """Remove the directories under `prefix` (and `prefix`) that hold no file any more.

        Local disk and `memory://` keep a directory after its last file is deleted; object stores
        have no directories, so there is nothing to do there. A directory that has gained a file
        meanwhile (a writer publishing) is kept with it.
        """
        if not (self.is_local or self.protocol == "memory"):
            return
        base = self.full_path(prefix)
        try:
            found = self.fs.find(base, withdirs=True, detail=True)
        except FileNotFoundError:
            return
        directories = [path for path, info in found.items() if info.get("type") == "directory"]
        for directory in sorted({*directories, base}, key=len, reverse=True):  # deepest first
            try:
                self.fs.rmdir(directory)
            except OSError:  # not empty (or already gone)
                pass

    def polars_storage_options(self) -> dict[str, str] | None:
        """Options that let polars/object_store read this store, or None for local disk."""
        if self.is_local:
            return None
        if self.protocol not in ("s3", "s3a"):
            return None
        options: dict[str, str] = {}
        endpoint = (getattr(self.fs, "client_kwargs", None) or {}).get("endpoint_url") or getattr(
            self.fs, "endpoint_url", None
        )
        if endpoint:
            options["aws_endpoint_url"] = str(endpoint)
            if str(endpoint).startswith("http://"):
                options["aws_allow_http"] = "true"
        if getattr(self.fs, "key", None):
            options["aws_access_key_id"] = str(self.fs.key)
        if getattr(self.fs, "secret", None):
            options["aws_secret_access_key"] = str(self.fs.secret)
        options.setdefault("aws_region", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
        return options

    @property
    def polars_native(self) -> bool:
        """True when polars can read this store's files by URL (local disk and S3)."""
        return self.is_local or self.protocol in ("s3", "s3a")


def _find_local(base: str, offset: int, temporary: bool) -> list[FileInfo]:
    """The files under local directory (or file) `base`, as `Store.find` lists them, unsorted."""
    if os.path.isfile(base):
        stat = os.stat(base)
        return [] if base.endswith(".tmp") != temporary else [FileInfo(base[offset:], stat.st_size, stat.st_mtime)]
    found: list[FileInfo] = []
    pending = [base]
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.is_dir():
                pending.append(entry.path)
            elif entry.path.endswith(".tmp") == temporary:
                try:
                    stat = entry.stat()
                except FileNotFoundError:  # removed (gc, a finished temp file) since the directory was read
                    continue
                found.append(FileInfo(entry.path[offset:].replace(os.sep, "/"), stat.st_size, stat.st_mtime))
    return found


def _mtime(info: dict[str, Any]) -> float:
    for field in ("mtime", "LastModified", "created"):
        value = info.get(field)
        if value is None:
            continue
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
        return float(value)
    return 0.0


def resolve_uri(uri: str | None) -> str:
    """The store URI to use: `uri`, else $EVENTLOG_URI, else `./.eventlog`.

    A store in `./eventlog` (the default of earlier versions: a directory holding `seg/` or
    `_manifest/`) is used instead when `./.eventlog` does not exist, with a warning that says
    how to move it.
    """
    chosen = uri or os.environ.get(EVENTLOG_URI)
    if chosen:
        return chosen
    if not os.path.exists(DEFAULT_URI) and _holds_a_store(LEGACY_DEFAULT_URI):
        _log.warning(
            "eventlog: using the store in %s (the old default location); the default is now %s: "
            "move it with `mv %s %s`, or pass its path explicitly",
            LEGACY_DEFAULT_URI,
            DEFAULT_URI,
            LEGACY_DEFAULT_URI,
            DEFAULT_URI,
        )
        return LEGACY_DEFAULT_URI
    return DEFAULT_URI


def _holds_a_store(path: str) -> bool:
    """True if the local directory `path` holds an eventlog store (its segments or manifests)."""
    return os.path.isdir(os.path.join(path, "seg")) or os.path.isdir(os.path.join(path, "_manifest"))


def open_store(uri: str | None = None, storage_options: dict[str, Any] | None = None) -> Store:
    """Open the store at `uri` ($EVENTLOG_URI, else ./.eventlog), checking that it can be reached.

    A local directory is created if it is missing. For S3 the bucket must exist and the
    credentials must work; s3fs listing caches are turned off (they hide other writers' files).

    Raises:
        StoreUnavailableError: the bucket does not exist, credentials are missing or refused.
        ValueError: the URI's protocol is not known to fsspec.
    """
    uri = resolve_uri(uri)
    options = dict(storage_options or {})
    protocol = uri.split("://", 1)[0] if "://" in uri else "file"
    if protocol in ("s3", "s3a"):
        options.setdefault("use_listings_cache", False)
        options.setdefault("skip_instance_cache", True)
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            options.setdefault("client_kwargs", {}).setdefault("endpoint_url", endpoint)
    try:
        fs, root = fsspec.core.url_to_fs(uri, **options)
    except (ValueError, ImportError) as exc:
        raise ValueError(f"cannot open store {uri!r}: {exc}") from exc
    if protocol == "file":
        root = os.path.abspath(root)
        os.makedirs(root, exist_ok=True)
    store = Store(uri, fs, root)
    if protocol in ("s3", "s3a"):
        _check_bucket(store)  # connects: s3fs's session exists from here on
        fast_s3_timestamps(fs)
    return store


def _check_bucket(store: Store) -> None:
    bucket = store.root.split("/", 1)[0]
    try:
        store.fs.ls(bucket, detail=False)
    except FileNotFoundError as exc:
        raise StoreUnavailableError(
            f"cannot open store {store.uri!r}: bucket {bucket!r} does not exist; create it or fix the URI"
        ) from exc
    except PermissionError as exc:
        raise StoreUnavailableError(
            f"cannot open store {store.uri!r}: access denied; check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
            "or pass storage_options={'key': ..., 'secret': ...}"
        ) from exc
    except Exception as exc:  # botocore raises NoCredentialsError, EndpointConnectionError, ...
        raise StoreUnavailableError(
            f"cannot open store {store.uri!r}: {type(exc).__name__}: {exc}; check the endpoint "
            "(AWS_ENDPOINT_URL) and credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
        ) from exc
