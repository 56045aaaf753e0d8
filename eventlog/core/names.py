"""Validation of every name that becomes a path or a column: the one place that knows the rules.

Experiment names become a path segment (`experiment=<percent-encoded name>`), so they are bound
by what a file system and S3 take, in encoded bytes, not characters. Writer ids and job ids become
path segments too. Keys, event kinds and extra-column names are column values and names, not
paths. Every string must be valid UTF-8 (a lone surrogate, as `os.fsdecode` makes of a Latin-1
file name, cannot be written to Parquet), so the check is here, at the call, and not in the
flusher, where it would stop the writer.

Rules for experiment names (docs/logging.md#naming-rules):
- not empty, no control characters, no leading/trailing whitespace;
- at most `MAX_NAME_BYTES` bytes once percent-encoded (240 ASCII letters; fewer for others);
- no `/` or `\\`, not `.` or `..`, no `=` (it would break the hive partition);
- not a pattern: no `*`, `?`, `[` or `]`, not `all`, not starting with `re:`. Read functions take
  patterns, so an experiment named `*` would read every experiment's rows; an experiment name
  always means itself.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from eventlog.errors import InvalidNameError

__all__ = [
    "MAX_KEY_LENGTH",
    "MAX_NAME_BYTES",
    "MAX_WRITER_LENGTH",
    "RESERVED_COLUMNS",
    "check_text",
    "validate_experiment",
    "validate_extra_name",
    "validate_job_id",
    "validate_key",
    "validate_kind",
    "validate_writer",
]

#: A path segment is at most 255 bytes on common file systems; `experiment=` takes 11 of them.
MAX_NAME_BYTES = 240
MAX_KEY_LENGTH = 1024
MAX_WRITER_LENGTH = 200
#: Column names of an event and of its hive partition: an extra column cannot take one of them.
RESERVED_COLUMNS = frozenset(
    ("experiment", "run", "step", "event", "key", "value", "value_json", "dt", "node", "userid", "rank", "writer", "seq",
     "extra", "date")
)  # fmt: skip
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WRITER_OK = re.compile(r"[A-Za-z0-9_.:-]+")
_PATTERN_CHARACTERS = "*?[]"


def check_text(text: str, what: str) -> str:
    """Return `text` if it can be stored (valid UTF-8), else raise.

    Raises:
        ValueError: the string holds a lone surrogate (such as `os.fsdecode(b"caf\\xe9")` makes),
            which no Parquet or msgpack writer takes; the message names `what`.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start : exc.end]
        raise ValueError(
            f"{what} {text[:60]!r} is not valid UTF-8 (it holds {bad!r} at position {exc.start}, a lone surrogate); "
            "decode file names with errors='replace' or pass bytes through .decode('utf-8', 'replace')"
        ) from None
    return text


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
        raise InvalidNameError(f"invalid experiment name {name[:80]!r}: {problem}")
    return name


def _experiment_problem(name: str) -> str | None:
    if not name:
        return "it is empty; give the experiment a name such as 'iris'"
    if _CONTROL.search(name):
        return "it contains a control character (such as a newline or NUL)"
    try:
        check_text(name, "the name")
    except ValueError as exc:
        return str(exc)
    encoded = len(quote(name, safe=""))
    if encoded > MAX_NAME_BYTES:
        return (
            f"it takes {encoded} bytes once percent-encoded for its directory, at most {MAX_NAME_BYTES} are allowed "
            "(one byte per ASCII letter, digit or -._~; up to 12 for other characters)"
        )
    if "/" in name or "\\" in name:
        return "it contains a path separator ('/' or '\\'); use '-' or '_' instead"
    if name in (".", ".."):
        return "'.' and '..' are not allowed because names become directories"
    if "=" in name:
        return "it contains '=', which would break the experiment=<name> partition directory"
    if name != name.strip():
        return "it starts or ends with whitespace"
    if any(ch in name for ch in _PATTERN_CHARACTERS) or name == "all" or name.startswith("re:"):
        return (
            "it would read as a pattern (names may not contain * ? [ ], be 'all' or start with 're:'), "
            "and reads take patterns; use '-' or '_' instead"
        )
    return None


def validate_key(key: object) -> str:
    """Check that `key` can be a metric/param key and return it.

    Raises:
        TypeError: `key` is not a string.
        InvalidNameError: the key is empty, too long, not valid UTF-8 or contains a control character.
    """
    return _validate_column_text(key, "key", "keys must not be empty (for example 'loss' or 'train/acc')")


def validate_kind(kind: object) -> str:
    """Check that `kind` can be an event kind (`metric`, `param`, or a kind of the user's own).

    Raises:
        TypeError: `kind` is not a string.
        InvalidNameError: the kind is empty, too long, not valid UTF-8 or contains a control character.
    """
    return _validate_column_text(kind, "event kind", "use 'metric', 'param', ... or a kind of your own")


def validate_extra_name(name: object) -> str:
    """Check that `name` can be the name of an extra column and return it.

    Raises:
        TypeError: `name` is not a string.
        InvalidNameError: the rules of keys are broken, or the name is one of the event's own
            columns (`run`, `key`, `experiment`, ...), which an extra would hide in `data()`.
    """
    _validate_column_text(name, "extra column name", "name extra columns like keys (for example 'tag')")
    if name in RESERVED_COLUMNS:
        raise InvalidNameError(
            f"invalid extra column name {name!r}: it is one of the event's own columns "
            f"({', '.join(sorted(RESERVED_COLUMNS))}); choose another name, such as 'my_{name}'"
        )
    return str(name)


def _validate_column_text(text: object, what: str, hint: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str, got {type(text).__name__}: {text!r}")
    if not text:
        raise InvalidNameError(f"invalid {what} '': {hint}")
    if len(text) > MAX_KEY_LENGTH:
        raise InvalidNameError(
            f"invalid {what} {text[:40]!r}...: it has {len(text)} characters, at most {MAX_KEY_LENGTH} are allowed"
        )
    if _CONTROL.search(text):
        raise InvalidNameError(f"invalid {what} {text!r}: it contains a control character (such as a newline or NUL)")
    try:
        check_text(text, what)
    except ValueError as exc:
        raise InvalidNameError(f"invalid {exc}") from None
    return text


def validate_writer(writer: object) -> str:
    """Check that `writer` can be a writer id (it becomes a directory of the raw segments).

    Raises:
        InvalidNameError: not 1-200 characters of `A-Z a-z 0-9 _ . : -`, or only dots.
    """
    if (
        not isinstance(writer, str)
        or not 0 < len(writer) <= MAX_WRITER_LENGTH
        or not _WRITER_OK.fullmatch(writer)
        or not writer.strip(".")
    ):
        raise InvalidNameError(
            f"invalid writer id {str(writer)[:60]!r}: it must be 1-{MAX_WRITER_LENGTH} characters of A-Z a-z 0-9 _ . : - "
            "and not only dots (it becomes a directory name)"
        )
    return writer


def validate_job_id(job: object) -> str:
    """Check that `job` can be a distributed job id (EVENTLOG_RUN_ID, SLURM_JOB_ID, ...).

    Raises:
        InvalidNameError: empty, longer than 200 characters once percent-encoded, not valid
            UTF-8, with a control character, or only dots (it becomes a file name).
    """
    if not isinstance(job, str) or not job or _CONTROL.search(job) or not job.strip("."):
        raise InvalidNameError(
            f"invalid job id {job!r} (from EVENTLOG_RUN_ID or the launcher's job id variable): it must be a non-empty "
            "string without control characters and not only dots, such as 'train-2024-06-01'"
        )
    try:
        check_text(job, "job id")
    except ValueError as exc:
        raise InvalidNameError(str(exc)) from None
    if len(quote(job, safe="")) > MAX_WRITER_LENGTH:
        raise InvalidNameError(f"invalid job id {job[:40]!r}...: at most {MAX_WRITER_LENGTH} bytes once percent-encoded")
    return job
