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
    try:
        store.create(path, candidate.encode())
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
        store.create(manifest_path(candidate.version), candidate.encode())
        return True
    except AlreadyExistsError:
        return is_ours(store, candidate)
    except Exception:
        return None


def is_ours(store: Store, candidate: Manifest) -> bool:
    """True if the committed version `candidate.version` carries our commit id."""
    return read_manifest(store, candidate.version).commit == candidate.commit
