"""Validation of experiment names (which become path segments) and keys (which do not).

Rules for experiment names: not empty, at most 256 characters, no `/` or `\\`, not `.` or `..`,
no control characters, and no `=` (it would break the `experiment=<name>` hive partition).
Rules for keys: not empty, at most 1,024 characters, no control characters; `/` is fine
(`train/loss`).
"""

from __future__ import annotations

import re

from eventlog.errors import InvalidNameError

__all__ = ["MAX_KEY_LENGTH", "MAX_NAME_LENGTH", "validate_experiment", "validate_key"]

MAX_NAME_LENGTH = 256
MAX_KEY_LENGTH = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def validate_experiment(name: object) -> str:
    """Check that `name` can be an experiment name and return it.

    Raises:
        TypeError: `name` is not a string.
        InvalidNameError: a rule is broken; the message names the rule and the offending name.
    """
    if not isinstance(name, str):
        raise TypeError(f"experiment name must be a str, got {type(name).__name__}: {name!r}")
    problem = _experiment_problem(name)
    if problem:
        raise InvalidNameError(f"invalid experiment name {name!r}: {problem}")
    return name


def _experiment_problem(name: str) -> str | None:
    if not name:
        return "it is empty; give the experiment a name such as 'iris'"
    if len(name) > MAX_NAME_LENGTH:
        return f"it has {len(name)} characters, at most {MAX_NAME_LENGTH} are allowed"
    if "/" in name or "\\" in name:
        return "it contains a path separator ('/' or '\\'); use '-' or '_' instead"
    if name in (".", ".."):
        return "'.' and '..' are not allowed because names become directories"
    if "=" in name:
        return "it contains '=', which would break the experiment=<name> partition directory"
    if _CONTROL.search(name):
        return "it contains a control character (such as a newline or NUL)"
    if name != name.strip():
        return "it starts or ends with whitespace"
    return None


def validate_key(key: object) -> str:
    """Check that `key` can be a metric/param key and return it.

    Raises:
        TypeError: `key` is not a string.
        InvalidNameError: the key is empty, too long or contains a control character.
    """
    if not isinstance(key, str):
        raise TypeError(f"key must be a str, got {type(key).__name__}: {key!r}")
    if not key:
        raise InvalidNameError("invalid key '': keys must not be empty (for example 'loss' or 'train/acc')")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidNameError(
            f"invalid key {key[:40]!r}...: it has {len(key)} characters, at most {MAX_KEY_LENGTH} are allowed"
        )
    if _CONTROL.search(key):
        raise InvalidNameError(f"invalid key {key!r}: it contains a control character (such as a newline or NUL)")
    return key
