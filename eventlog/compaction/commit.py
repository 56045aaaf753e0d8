"""Committing a manifest version with create-if-absent, resolving unknown outcomes by reading it back."""

from __future__ import annotations

from collections.abc import Callable

from eventlog.core.manifest import Manifest, manifest_path, read_manifest
from eventlog.core.store import Store
from eventlog.errors import AlreadyExistsError, CompactionError

__all__ = ["CompactionError", "is_ours", "try_create"]


def try_create(store: Store, candidate: Manifest, fault: Callable[[str], None]) -> bool:
    """Create the manifest file; True if it is ours, False if another commit holds that version.

    Raises:
        CompactionError: the outcome stays unknown (the write raised and the version cannot be read back).
    """
    path = manifest_path(candidate.version)
    root, parts = candidate.encode()
    _write_parts(store, parts)
    try:
        store.create(path, root)
        fault("commit_written")
        return True
    except AlreadyExistsError:
        return is_ours(store, candidate)
    except Exception as exc:  # the outcome is unknown: the write may have landed
        outcome = _resolve(store, candidate)
        if outcome is None:
            raise CompactionError(
                f"committing {path} in {store.uri} failed ({type(exc).__name__}: {exc}) and its outcome is unknown; "
                "readers are unaffected either way: run compact again"
            ) from exc
        return outcome


def _resolve(store: Store, candidate: Manifest) -> bool | None:
    """After a create that raised: whether the version is ours, writing it once more if it is absent; None: unknown."""
    try:
        return is_ours(store, candidate)
    except FileNotFoundError:
        pass  # the write did not land
    except Exception:
        return None
    try:
        store.create(manifest_path(candidate.version), candidate.encode()[0])
        return True
    except AlreadyExistsError:
        return is_ours(store, candidate)
    except Exception:
        return None


def _write_parts(store: Store, parts: dict[str, bytes]) -> None:
    """Write a version's new parts before its root, so a committed root never names a missing part.

    Parts are content-addressed: one already there (a retry, or an identical earlier try) holds
    the same bytes. A failed write is tried once more; nothing is committed until the root is.

    Raises:
        CompactionError: a part could not be written twice in a row (nothing was committed).
    """
    for path, body in parts.items():
        for attempt in (1, 2):
            try:
                store.create(path, body)
                break
            except AlreadyExistsError:
                break
            except Exception as exc:
                if attempt == 2:
                    raise CompactionError(
                        f"writing manifest part {path} in {store.uri} failed twice ({type(exc).__name__}: {exc}); "
                        "nothing was committed and readers are unaffected: run compact again"
                    ) from exc


def is_ours(store: Store, candidate: Manifest) -> bool:
    """True if the committed version `candidate.version` carries our commit id."""
    return read_manifest(store, candidate.version, experiments=lambda _: False).commit == candidate.commit
