"""Damaged files: name them, and on request read around them.

A truncated, empty, garbage or foreign-schema Parquet file in a store (a full disk, a stray copy,
a bit flip) used to fail every query with a raw polars error that named no file. Now every public
read (`data`, `runs`, `summary`, ...) is `damage_aware`: when a read fails, the files of its
snapshot are checked one by one, and the error names each damaged file and what is wrong with it
(`DamagedFileError`). With `on_damaged="skip"` (CLI `--skip-damaged`, or
`$EVENTLOG_ON_DAMAGED=skip`) the read is done again without them, and an
`DamagedFilesSkippedWarning` says how many files (and which) were left out.

Checking costs one read per file, so it is done only after a failure: an intact store pays nothing.
"""

from __future__ import annotations

import functools
import inspect
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar, cast

from eventlog import env
from eventlog.core.event import arrow_schema
from eventlog.core.store import Store
from eventlog.errors import DamagedFileError, DamagedFilesSkippedWarning, EventLogError
from query.snapshot import take_snapshot

__all__ = ["ON_DAMAGED_ENV", "damage_aware", "damaged_files", "excluded_paths"]

ON_DAMAGED_ENV = env.EVENTLOG_ON_DAMAGED
_MODES = ("raise", "skip")
_EXCLUDED: ContextVar[frozenset[str]] = ContextVar("eventlog_damaged_excluded", default=frozenset())
_F = TypeVar("_F", bound=Callable[..., Any])


def excluded_paths() -> frozenset[str]:
    """Store paths that reads in this context leave out (the damaged files of an `on_damaged="skip"` read)."""
    return _EXCLUDED.get()


@contextmanager
def _excluding(paths: frozenset[str]) -> Iterator[None]:
    token = _EXCLUDED.set(_EXCLUDED.get() | paths)
    try:
        yield
    finally:
        _EXCLUDED.reset(token)


def _problem(store: Store, path: str) -> str | None:
    """What is wrong with one file, or None if it reads as a segment."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    expected = arrow_schema()
    try:
        # use_threads=False: arrow's thread pool started after a failed polars scan made the
        # interpreter abort at exit ("terminate called without an active exception", polars 2.1)
        table = pq.read_table(pa.BufferReader(store.read(path)), use_threads=False)
    except FileNotFoundError:
        return None  # deleted by gc meanwhile: not damage
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for a broken file
        return f"not a readable Parquet file ({type(exc).__name__}: {str(exc)[:200]})"
    names = set(table.schema.names)
    missing = [f.name for f in expected if f.name != "extra" and f.name not in names]
    if missing:
        return f"not an eventlog segment: columns {missing} are missing (it has {sorted(names)[:10]})"
    for field in expected:
        if field.name in names:
            found = table.schema.field(field.name).type
            same_kind = str(found).split("[")[0] == str(field.type).split("[")[0]
            if found != field.type and not same_kind and not (found.equals(field.type)):
                return f"not an eventlog segment: column {field.name!r} is {found}, expected {field.type}"
    return None


def damaged_files(store: Store, experiment: Any = "*") -> list[tuple[str, str]]:
    """Check every file of the snapshot of `experiment`; returns (path, what is wrong) per damaged file."""
    found = []
    for info in take_snapshot(store, experiment).files:
        problem = _problem(store, info.path)
        if problem is not None:
            found.append((info.path, problem))
    return found


def _mode(value: Any) -> str:
    mode = value if value is not None else (os.environ.get(ON_DAMAGED_ENV) or "raise")
    if mode not in _MODES:
        raise ValueError(f"on_damaged must be 'raise' or 'skip', got {mode!r}")
    return str(mode)


def _is_read_failure(exc: BaseException) -> bool:
    if isinstance(exc, EventLogError):
        return False
    return isinstance(exc, OSError) or type(exc).__module__.split(".")[0] in ("polars", "pyarrow")


def damage_aware(func: _F) -> _F:
    """Give a read function (first parameters `store`, `experiment`) an `on_damaged=` keyword.

    The wrapped function raises `DamagedFileError` naming each damaged file when a read fails
    because of them, or with `on_damaged="skip"` reads again without them and warns
    `DamagedFilesSkippedWarning`.
    """
    signature = inspect.signature(func)

    @functools.wraps(func)
    def wrapper(*args: Any, on_damaged: str | None = None, **kwargs: Any) -> Any:
        mode = _mode(on_damaged)
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            if not _is_read_failure(exc):
                raise
            bound = signature.bind_partial(*args, **kwargs)
            from query.scan import as_store  # scan imports this module

            store = as_store(bound.arguments.get("store"))
            damaged = damaged_files(store, bound.arguments.get("experiment", "*"))
            if not damaged:
                raise
        # Raised here, outside the handler, so the polars error is released: one still alive (as
        # the context of ours) when the interpreter exits makes it abort.
        listing = "; ".join(f"{store.url(path)}: {problem}" for path, problem in damaged[:5])
        more = f" (and {len(damaged) - 5} more)" if len(damaged) > 5 else ""
        if mode == "raise":
            raise DamagedFileError(
                f"{len(damaged)} damaged file(s) in {store.uri}: {listing}{more}. Move or delete them, or read around "
                "them with on_damaged='skip' (CLI: --skip-damaged)",
                paths=[path for path, _ in damaged],
            )
        warnings.warn(f"{len(damaged)} damaged file(s) skipped: {listing}{more}", DamagedFilesSkippedWarning, stacklevel=2)
        with _excluding(frozenset(path for path, _ in damaged)):
            return func(*args, **kwargs)

    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), inspect.Parameter("on_damaged", inspect.Parameter.KEYWORD_ONLY, default=None)]
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
        else list(signature.parameters.values())
    )
    return cast(_F, wrapper)
