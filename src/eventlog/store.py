"""A store: a root directory on any fsspec filesystem, with the few operations the log needs.

The storage interface is deliberately tiny (STYLE §3): `create` (create-if-absent, the only way
anything is ever written), `read`, `find`, `delete`. How create-if-absent is made atomic depends
on the backend:

- local disk: write `<name>.<uuid>.tmp`, fsync, `os.link` to the final name (link fails with
  EEXIST, so the first writer wins; rename would silently overwrite), fsync the directory;
- S3: s3fs `pipe_file(..., mode="create")` sends `If-None-Match: *`; a 412 means the object exists
  (s3fs maps it to FileExistsError on AWS and moto; Ceph RGW's reply comes back as
  OSError(EINVAL) with a PreconditionFailed cause, mapped here too);
- anything else (`memory://`, ...): exists-then-write under a process-wide lock, which is atomic
  for in-process filesystems only.
"""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import fsspec

from eventlog.env import EVENTLOG_URI
from eventlog.errors import AlreadyExistsError, StoreUnavailableError

__all__ = ["CLOCK_PROBES", "DEFAULT_URI", "FileInfo", "Store", "fsync_dir", "open_store", "resolve_uri"]

DEFAULT_URI = "./eventlog"
#: Where `Store.now` writes its probe objects (each deleted right after it is read).
CLOCK_PROBES = "_clock"
_GENERIC_CREATE_LOCK = threading.Lock()


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

    def create(self, path: str, data: bytes) -> None:
        """Write `data` at `path` only if nothing is there yet (atomic create-if-absent).

        Raises:
            AlreadyExistsError: the object exists (another writer won, or an earlier try landed).
            ValueError: `data` is empty (an empty create is not atomic on S3).
        """
        if not data:
            raise ValueError(f"refusing to create empty object {path!r}: an empty create-if-absent is not atomic on S3")
        full = self.full_path(path)
        if self.is_local:
            _create_local(full, data)
        elif self.protocol in ("s3", "s3a"):
            _create_s3(self.fs, full, data)
        else:
            _create_generic(self.fs, full, data)

    def read(self, path: str) -> bytes:
        """Read a whole object. Raises FileNotFoundError if it does not exist."""
        data: bytes = self.fs.cat_file(self.full_path(path))
        return data

    def exists(self, path: str) -> bool:
        """True if an object (or directory) exists at `path`."""
        return bool(self.fs.exists(self.full_path(path)))

    def find(self, prefix: str) -> list[FileInfo]:
        """Every object under `prefix` (recursively), sorted by path; [] if there is none.

        Temp files (`*.tmp`) of local writers in progress are left out.
        """
        base = self.full_path(prefix)
        try:
            found = self.fs.find(base, detail=True)
        except FileNotFoundError:
            return []
        offset = len(self.root) + 1
        infos = []
        for full, info in found.items():
            if info.get("type") == "directory" or full.endswith(".tmp"):
                continue
            full = full.split("://", 1)[-1]
            infos.append(FileInfo(full[offset:], int(info.get("size") or 0), _mtime(info)))
        return sorted(infos, key=lambda f: f.path)

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


def _mtime(info: dict[str, Any]) -> float:
    for field in ("mtime", "LastModified", "created"):
        value = info.get(field)
        if value is None:
            continue
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
        return float(value)
    return 0.0


def _create_local(full: str, data: bytes) -> None:
    directory = os.path.dirname(full)
    os.makedirs(directory, exist_ok=True)
    tmp = f"{full}.{uuid.uuid4().hex}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, full)
        except FileExistsError as exc:
            raise AlreadyExistsError(f"{full} already exists") from exc
    finally:
        os.unlink(tmp)
    fsync_dir(directory)


def fsync_dir(directory: str) -> None:
    """Make the entries of a local `directory` (a new link or file) durable across a power loss.

    Raises:
        OSError: the directory cannot be opened or synced.
    """
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _is_precondition_failure(exc: BaseException) -> bool:
    """True for an S3 412/409 on a conditional write, however the client library wrapped it."""
    seen: BaseException | None = exc
    while seen is not None:
        response = getattr(seen, "response", None)
        if isinstance(response, dict):
            code = response.get("Error", {}).get("Code")
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412):
                return True
        seen = seen.__cause__ or seen.__context__
    return False


def _create_s3(fs: Any, full: str, data: bytes) -> None:
    try:
        fs.pipe_file(full, data, mode="create")
    except FileExistsError as exc:
        raise AlreadyExistsError(f"s3://{full} already exists") from exc
    except OSError as exc:
        if _is_precondition_failure(exc):
            raise AlreadyExistsError(f"s3://{full} already exists") from exc
        raise


def _create_generic(fs: Any, full: str, data: bytes) -> None:
    with _GENERIC_CREATE_LOCK:
        if fs.exists(full):
            raise AlreadyExistsError(f"{full} already exists")
        parent = full.rsplit("/", 1)[0]
        fs.makedirs(parent, exist_ok=True)
        fs.pipe_file(full, data)


def resolve_uri(uri: str | None) -> str:
    """The store URI to use: `uri`, else $EVENTLOG_URI, else ./eventlog."""
    return uri or os.environ.get(EVENTLOG_URI) or DEFAULT_URI


def open_store(uri: str | None = None, storage_options: dict[str, Any] | None = None) -> Store:
    """Open the store at `uri` ($EVENTLOG_URI, else ./eventlog), checking that it can be reached.

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
        _check_bucket(store)
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
