"""What every `eventlog` command shares: the `--store` option, opening the store, user errors.

A user error (exit code 1) is any `EventLogError`, or a `ValueError`/`KeyError`/`OSError` raised
by what the command called: its message says what was wrong and what to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from eventlog import env
from eventlog.core.catalog import list_experiments
from eventlog.core.store import Store, open_store, resolve_uri
from eventlog.errors import UserError

__all__ = ["StoreOption", "UserError", "open_cli_experiment", "open_cli_store"]

StoreOption = Annotated[
    str | None,
    typer.Option("--store", "-s", envvar=env.EVENTLOG_URI, help="Store URI (default $EVENTLOG_URI, else ./.eventlog).", show_default=False),
]


def open_cli_store(uri: str | None, *, must_exist: bool = True) -> Store:
    """Open the store at `uri` ($EVENTLOG_URI, else ./.eventlog); a local one must already exist.

    The CLI reads, so a mistyped local path is an error rather than a new empty store.

    Raises:
        UserError: no local store at `uri`.
        StoreUnavailableError: a remote store cannot be reached.
    """
    uri = resolve_uri(uri)
    if uri.startswith(("http://", "https://")):
        raise UserError(
            f"{uri} is a collector (`eventlog serve`), which only takes events in; the commands read the "
            "store it writes to: pass that with --store (the URI given to `eventlog serve --store`)"
        )
    if "://" not in uri and must_exist and not Path(uri).is_dir():
        raise UserError(f"no store at {uri!r}; pass --store URI or set $EVENTLOG_URI")
    return open_store(uri)


def open_cli_experiment(uri: str | None, experiment: str) -> Store:
    """Open the store at `uri` as `open_cli_store` does, and check that `experiment` is in it.

    Raises:
        UserError: no local store at `uri`, or no such experiment there (the message lists the
            experiments there are).
        StoreUnavailableError: a remote store cannot be reached.
    """
    store = open_cli_store(uri)
    known = list_experiments(store)
    if experiment not in known:
        raise UserError(f"unknown experiment {experiment!r} in {store.uri}; experiments are: {', '.join(known) or 'none yet'}")
    return store
