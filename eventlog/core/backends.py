"""How each kind of filesystem makes create-if-absent atomic: the one write a store ever does.

- local disk: write `<name>.<uuid>.tmp`, fsync, `os.link` to the final name (link fails with
  EEXIST, so the first writer wins; rename would silently overwrite), fsync the directory (and a
  directory it had to make, in its parent);
- S3: s3fs `pipe_file(..., mode="create")` sends `If-None-Match: *`; a 412 means the object exists
  (s3fs maps it to FileExistsError on AWS and moto; Ceph RGW's reply comes back as
  OSError(EINVAL) with a PreconditionFailed cause, mapped here too);
- anything else (`memory://`, ...): exists-then-write under a process-wide lock, which is atomic
  for in-process filesystems only.

Listing a prefix on S3 (`list_s3`) is here too: pages of `ListObjectsV2` read directly, because
s3fs's `find` builds a directory cache of every parent it sees, quadratic in the directories of
one parent (10,000 writer directories on moto: 3.7 s against 2.4 s). The S3 client parses the
listings' ISO 8601 timestamps with `datetime.fromisoformat` (`fast_s3_timestamps`): botocore's
default, dateutil, was a quarter of listing 10,000 keys.
"""

from __future__ import annotations

import datetime
import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any

from eventlog.errors import AlreadyExistsError

__all__ = ["create_generic", "create_local", "create_s3", "fast_s3_timestamps", "fsync_dir", "list_s3", "make_dirs_durably", "parse_s3_timestamp"]

_GENERIC_CREATE_LOCK = threading.Lock()


def create_local(full: str, data: bytes, *, sync_data: bool = True, sync_name: bool = True) -> None:
    """Create the local file `full` with `data` unless it exists (tmp file, fsync, link, fsync dir).

    With `sync_data=False` the file's content is not fsynced, only its name (the directory): after
    a power loss the file exists but may be empty. That saves one of the two journal commits, for
    markers whose existence is what counts (a run's claim). With `sync_name=False` the directory is
    not fsynced either: the caller makes the name durable later (`Store.sync_pending`).

    Raises:
        AlreadyExistsError: the file exists.
    """
    directory = os.path.dirname(full)
    make_dirs_durably(directory)
    tmp = f"{full}.{uuid.uuid4().hex}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if sync_data:
                os.fsync(f.fileno())
        try:
            os.link(tmp, full)
        except FileExistsError as exc:
            raise AlreadyExistsError(f"{full} already exists") from exc
    finally:
        os.unlink(tmp)
    if sync_name:
        fsync_dir(directory)


def make_dirs_durably(directory: str) -> None:
    """Create `directory` and its missing parents, each new one's name made durable in its parent.

    Syncing a file's directory makes its name durable, but not the directory's own entry: without
    this, a power loss could take a new writer's or experiment's directory with the segments in it.
    Costs one stat when the directory exists (every create but the first in a directory).

    Raises:
        OSError: a directory could not be created or synced.
    """
    if os.path.isdir(directory):
        return
    missing = []
    ancestor = directory
    while ancestor and not os.path.isdir(ancestor):
        missing.append(ancestor)
        ancestor = os.path.dirname(ancestor)
    os.makedirs(directory, exist_ok=True)
    for new in reversed(missing):  # top down: each new name is in a parent that is already durable
        fsync_dir(os.path.dirname(new) or ".")


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


def create_s3(fs: Any, full: str, data: bytes) -> None:
    """Create the S3 object `full` with `data` unless it exists (a conditional PUT, `If-None-Match: *`).

    Raises:
        AlreadyExistsError: the object exists (412 or 409, however the client wrapped it).
    """
    try:
        fs.pipe_file(full, data, mode="create")
    except FileExistsError as exc:
        raise AlreadyExistsError(f"s3://{full} already exists") from exc
    except OSError as exc:
        if _is_precondition_failure(exc):
            raise AlreadyExistsError(f"s3://{full} already exists") from exc
        raise


def create_generic(fs: Any, full: str, data: bytes) -> None:
    """Create `full` on any other fsspec filesystem: exists-then-write under a process-wide lock.

    Atomic only for in-process filesystems (`memory://`).

    Raises:
        AlreadyExistsError: the object exists.
    """
    with _GENERIC_CREATE_LOCK:
        if fs.exists(full):
            raise AlreadyExistsError(f"{full} already exists")
        parent = full.rsplit("/", 1)[0]
        fs.makedirs(parent, exist_ok=True)
        fs.pipe_file(full, data)


def list_s3(fs: Any, base: str, *, page_size: int = 1000) -> Iterator[tuple[str, int, float]]:
    """(bucket/key, size, mtime) of every object under the S3 prefix `base/`, in key order.

    One `ListObjectsV2` request per `page_size` keys (1,000 is S3's most), each through s3fs's
    `call_s3`, so a transient error on one page is retried like any other request. Directory
    placeholders (keys ending in `/`) are left out.

    Args:
        fs: an s3fs `S3FileSystem`.
        base: `bucket` or `bucket/key prefix`, without a trailing `/`.
        page_size: keys per request (smaller only in tests of the paging).

    Raises:
        FileNotFoundError: the bucket does not exist.
        OSError: the listing failed (s3fs's mapping of the S3 error).
    """
    bucket, _, key = base.partition("/")
    request: dict[str, Any] = {"Bucket": bucket, "Prefix": f"{key}/" if key else "", "MaxKeys": page_size}
    request.update(getattr(fs, "req_kw", {}))  # e.g. RequestPayer, as s3fs sends it
    while True:
        page = fs.call_s3("list_objects_v2", **request)
        for item in page.get("Contents", []):
            if not item["Key"].endswith("/"):
                yield f"{bucket}/{item['Key']}", int(item["Size"]), item["LastModified"].timestamp()
        if not page.get("IsTruncated"):
            return
        request["ContinuationToken"] = page["NextContinuationToken"]


def parse_s3_timestamp(value: Any) -> datetime.datetime:
    """A timestamp of an S3 response: ISO 8601 in UTC (`2026-12-04T15:49:29.656Z`, every listed
    key's LastModified) by `datetime.fromisoformat`, anything else by botocore's own parser."""
    if isinstance(value, str) and value.endswith("Z"):
        try:
            return datetime.datetime.fromisoformat(value)
        except ValueError:
            pass
    from botocore.utils import parse_timestamp

    parsed: datetime.datetime = parse_timestamp(value)
    return parsed


def fast_s3_timestamps(fs: Any) -> None:
    """Have the S3 client of an s3fs filesystem parse timestamps with `parse_s3_timestamp`.

    Sets the default of botocore's response parser factory (`set_parser_defaults`, its documented
    hook) on the filesystem's own session, which s3fs creates when it connects: other clients of
    the process keep botocore's parser. Does nothing before s3fs has connected; a session s3fs makes
    anew later (a reconnect) parses with botocore's parser again: slower, not wrong.
    """
    session = getattr(fs, "session", None)
    if session is not None:
        session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=parse_s3_timestamp)
