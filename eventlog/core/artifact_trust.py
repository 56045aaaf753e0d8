"""Who may run code on whom: pickled artifacts are unpickled only when their writer is trusted.

Unpickling runs code chosen by whoever wrote the pickle. numpy (`allow_pickle=False`) and torch
(`weights_only=True`) answered this by refusing pickles unless asked; eventlog keeps the seed's
`restore_artifacts()` returning objects for a user's *own* runs, and refuses everyone else's:

- when a pickle is logged, its sha256 is signed with HMAC-SHA256 under the user's own secret key
  (`~/.config/eventlog/signing-key`, created 0600 on first use; `$EVENTLOG_SIGNING_KEY_FILE`
  names another file, so a team's ranks on many machines can share one);
- `restore_artifacts(allow_pickle=None)` (the default) unpickles a payload only if its signature
  verifies under this user's key, that is, if this user (or someone holding their key) logged it;
  a teammate's or a collector client's pickle raises `UnsafeArtifactError` saying what to do;
- `allow_pickle=True` unpickles anything: use it only for stores whose writers you trust;
  `allow_pickle=False` never unpickles.

The command line never unpickles. Signing is like Jupyter's trusted notebooks: it proves who
wrote the pickle, not that the code in it is harmless.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

__all__ = ["KEY_FILE_ENV", "key_file", "sign", "verify"]

KEY_FILE_ENV = "EVENTLOG_SIGNING_KEY_FILE"


def key_file() -> Path:
    """Where this user's signing key lives (`$EVENTLOG_SIGNING_KEY_FILE`, else the user's config dir)."""
    named = os.environ.get(KEY_FILE_ENV)
    if named:
        return Path(named)
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(config) / "eventlog" / "signing-key"


def _key(create: bool) -> bytes | None:
    path = key_file()
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        if not create:
            return None
    except ValueError:
        return None  # not a key we wrote: trust nothing rather than guess
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return _key(create=False)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex())
    return key


def sign(sha256: str) -> str | None:
    """The signature of a payload's sha256 under this user's key (created on first use), or None if no key can be kept."""
    try:
        key = _key(create=True)
    except OSError:  # a read-only home: the pickle stays unsigned, and needs allow_pickle=True to load
        return None
    return None if key is None else hmac.new(key, sha256.encode(), hashlib.sha256).hexdigest()


def verify(sha256: str, signature: object) -> bool:
    """True if `signature` is this user's signature of `sha256`."""
    if not isinstance(signature, str):
        return False
    try:
        key = _key(create=False)
    except OSError:
        return False
    if key is None:
        return False
    return hmac.compare_digest(hmac.new(key, sha256.encode(), hashlib.sha256).hexdigest(), signature)
