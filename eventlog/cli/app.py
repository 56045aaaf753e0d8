"""The `eventlog` command line: the typer app, its global `--store`, and `main` with its exit codes.

The commands live in one module per group, each adding its commands with `register(app)`:
`reads` (experiments, runs, data, summary, compare, files, artifacts), `watch` (plot, tail),
`operations` (compact, gc, recover, serve) and `importers` (import mlflow|tensorboard|jsonl).

Every command takes `--store URI` (or `$EVENTLOG_URI`; default `./.eventlog`). Exit codes: 0 ok,
1 a user error (the store cannot be opened, an unknown experiment or column, bad input; the
message on stderr says what to do), 2 a usage error (unknown option, missing argument).

Run it as `eventlog ...` or `python -m eventlog.cli ...`.
"""

from __future__ import annotations

import os
import sys

import typer

from eventlog import env
from eventlog.cli import importers, operations, reads, watch
from eventlog.cli.common import StoreOption
from eventlog.errors import EventLogError

__all__ = ["app", "main"]

app = typer.Typer(
    name="eventlog",
    help="Look at, follow and maintain an eventlog store (local directory, s3://bucket/prefix, ...).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


@app.callback()
def _everywhere(store: StoreOption = None) -> None:
    """Look at, follow and maintain an eventlog store (local directory, s3://bucket/prefix, ...).

    `--store` may also come before the command: `eventlog --store s3://bucket/log runs mnist`.
    """
    if store is not None:
        os.environ[env.EVENTLOG_URI] = store  # the commands' own --store option falls back to it


for _group in (reads, watch, operations, importers):
    _group.register(app)

_USER_ERRORS: tuple[type[BaseException], ...] = (EventLogError, ValueError, LookupError, OSError)  # LookupError: KeyError too


def main(argv: list[str] | None = None) -> None:
    """Run the CLI (the `eventlog` script); user errors print `error: ...` on stderr and exit 1."""
    try:
        app(args=argv, prog_name="eventlog")
    except _USER_ERRORS as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        sys.stderr.write(f"error: {message}\n")  # plain and unwrapped: scripts grep it
        sys.exit(1)

