"""The `eventlog` command line: the typer app, its global `--store`, and `main` with its exit codes.

The commands live in one module per group, each adding its commands with `register(app)`:
`reads` (experiments, runs, data, summary, compare, files, artifacts), `watch` (plot, tail),
`operations` (compact, gc, recover, serve), `importers` (import mlflow|tensorboard|jsonl) and `ui`
(the dashboard).

Every command takes `--store URI` (or `$EVENTLOG_URI`; default `./.eventlog`). Exit codes: 0 ok,
1 a user error (the store cannot be opened, an unknown experiment or column, bad input; the
message on stderr says what to do), 2 a usage error (unknown option, missing argument).

Run it as `eventlog ...` or `python -m eventlog.cli ...`.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Annotated

import typer

from eventlog import env
from eventlog.cli import importers, operations, reads, ui, watch
from eventlog.cli.common import StoreOption
from eventlog.errors import DamagedFilesSkippedWarning, EventLogError

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
def _everywhere(
    store: StoreOption = None,
    skip_damaged: Annotated[
        bool, typer.Option("--skip-damaged", help="Read around damaged files (named on stderr) instead of failing.")
    ] = False,
) -> None:
    """Look at, follow and maintain an eventlog store (local directory, s3://bucket/prefix, ...).

    `--store` may also come before the command: `eventlog --store s3://bucket/log runs mnist`.
    """
    if store is not None:
        os.environ[env.EVENTLOG_URI] = store  # the commands' own --store option falls back to it
    if skip_damaged:
        os.environ[env.EVENTLOG_ON_DAMAGED] = "skip"  # query.damage reads it: every read of this command skips


for _group in (reads, watch, operations, importers, ui):
    _group.register(app)

_USER_ERRORS: tuple[type[BaseException], ...] = (EventLogError, ValueError, LookupError, OSError)  # LookupError: KeyError too


def main(argv: list[str] | None = None) -> None:
    """Run the CLI (the `eventlog` script); user errors print `error: ...` on stderr and exit 1."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", DamagedFilesSkippedWarning)
            warnings.showwarning = _one_line_warning
            app(args=argv, prog_name="eventlog")
    except Exception as exc:
        if not isinstance(exc, _USER_ERRORS) and type(exc).__module__.split(".")[0] not in ("polars", "pyarrow"):
            raise  # a bug: the traceback is what a report needs
        message = str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
    else:
        return
    sys.stderr.write(f"error: {message}\n")  # plain and unwrapped: scripts grep it
    # Leave without interpreter shutdown: a read that failed inside polars or pyarrow can leave
    # their native thread pools mid-work, and tearing them down then aborts the process now and
    # again ("terminate called without an active exception", exit -6 instead of 1). main() is
    # the process's entry point; in-process callers use `app` (typer's testing runner does).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)


def _one_line_warning(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
    sys.stderr.write(f"warning: {message}\n")

