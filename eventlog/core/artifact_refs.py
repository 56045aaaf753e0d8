"""Checking an artifact reference before it is trusted: a reference is data from an event, and
events can come from anyone who holds a collector token.

A reference names a payload (`path`, relative to the store root) and the names to restore it
under (`filename`, `dirname`, each file's `relpath`, and `sha256`, a cache directory). Without
these checks a forged reference could make a restore read outside the store (`../`), or write
outside its destination (an absolute or `../` filename), such as a victim's
`~/.ssh/authorized_keys`. So: a payload must lie in the artifact area of the event's own
experiment and run, every name must be one plain path component, and `sha256` must be 64 hex
digits. The collector applies the same check to the artifact events it receives.
"""

from __future__ import annotations

import re
from typing import Any

from eventlog.core import layout
from eventlog.errors import UnsafeArtifactError

__all__ = ["check_reference", "safe_component"]

_SHA256 = re.compile(r"[0-9a-f]{64}")


def safe_component(name: object, what: str, artifact: object) -> str:
    """Return `name` if it is one plain path component (no `/`, `\\`, NUL, not `.`/`..`/empty).

    Raises:
        UnsafeArtifactError: it is not; the message names the artifact and the field.
    """
    if not isinstance(name, str) or name in ("", ".", "..") or any(ch in name for ch in "/\\\x00") or ":" in name[:2]:
        raise UnsafeArtifactError(
            f"artifact {artifact!r}: its {what} {name!r} is not a plain file name (it could point outside the "
            "destination); the reference was not written by eventlog, so it is not restored"
        )
    return name


def _check_payload(path: object, experiment: str, run: int, artifact: object) -> None:
    area = layout.artifact_dir(experiment, run) + "/"
    parts = path.split("/") if isinstance(path, str) else []
    if not isinstance(path, str) or not path.startswith(area) or any(part in ("", ".", "..") for part in parts) or "\\" in path:
        raise UnsafeArtifactError(
            f"artifact {artifact!r}: its payload path {path!r} is not inside {area} (the artifact area of run {run} of "
            f"experiment {experiment!r}); the reference was not written by eventlog, so it is not read"
        )


def check_reference(ref: Any, experiment: str, run: int) -> dict[str, Any]:
    """Check a reference of run `run` of `experiment` before anything is read or written for it.

    Raises:
        UnsafeArtifactError: the reference is not a dict, its payload lies outside the run's
            artifact area, or a name it restores under is not one plain path component.
    """
    if not isinstance(ref, dict):
        raise UnsafeArtifactError(f"an artifact reference of run {run} of {experiment!r} is not an object: {ref!r}")
    name = ref.get("name")
    kind = ref.get("format")
    if kind in ("file", "dir") and not _SHA256.fullmatch(str(ref.get("sha256", ""))):
        raise UnsafeArtifactError(f"artifact {name!r}: sha256 {ref.get('sha256')!r} is not 64 hex digits")
    if kind in ("file", "pickle"):
        _check_payload(ref.get("path"), experiment, run, name)
    if kind == "file":
        safe_component(ref.get("filename", "artifact"), "file name", name)
    if kind == "dir":
        safe_component(ref.get("dirname", "artifact"), "directory name", name)
        files = ref.get("files", [])
        if not isinstance(files, list):
            raise UnsafeArtifactError(f"artifact {name!r}: its file list is not a list")
        for entry in files:
            if not isinstance(entry, dict):
                raise UnsafeArtifactError(f"artifact {name!r}: a file entry is not an object: {entry!r}")
            relpath = entry.get("relpath")
            for part in relpath.split("/") if isinstance(relpath, str) else [relpath]:
                safe_component(part, "file path", name)
            _check_payload(entry.get("path"), experiment, run, name)
            if not _SHA256.fullmatch(str(entry.get("sha256", ""))):
                raise UnsafeArtifactError(f"artifact {name!r}: sha256 {entry.get('sha256')!r} is not 64 hex digits")
    return ref
