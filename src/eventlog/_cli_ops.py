"""Maintenance and ingest commands of the `eventlog` CLI: compact, gc, recover, serve, import.

Each one calls into the module that owns the work, imported only when the command runs (so a
missing optional piece never breaks the other commands), and shows a progress bar on stderr for
long work.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from eventlog import env
from eventlog._cli_common import StoreOption, UserError, open_cli_store
from eventlog._cli_output import err_console, out_console, progress_callback

__all__ = ["describe", "register"]


def describe(report: Any) -> dict[str, Any]:
    """A report object (dataclass, msgspec Struct, dict, number, ...) as a flat dict for printing."""
    if dataclasses.is_dataclass(report) and not isinstance(report, type):
        return dataclasses.asdict(report)
    if isinstance(report, dict):
        return dict(report)
    fields = getattr(report, "__struct_fields__", None)
    if fields is not None:
        return {name: getattr(report, name) for name in fields}
    return {"result": report}


def _print_report(title: str, report: Any) -> None:
    console = out_console()
    console.print(title)
    for name, value in describe(report).items():
        if isinstance(value, list | tuple | set) and len(value) > 10:
            value = f"{len(value)} items"
        console.print(f"  {name}: {value}")


def _import_from(module: str, name: str) -> Any:
    """`module.name`, or a clear error when that part of eventlog is not installed/built yet."""
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise UserError(f"{module}.{name} is not available in this installation ({exc}); update eventlog") from exc


def register(app: typer.Typer) -> None:
    """Add the maintenance and ingest commands to `app` (the CLI's typer app)."""

    @app.command()
    def compact(
        experiment: Annotated[str, typer.Argument(help="Experiment name or glob.")] = "*",
        store: StoreOption = None,
        min_lag: Annotated[float | None, typer.Option(help="Only merge segments at least this many seconds old.")] = None,
    ) -> None:
        """Merge small segments into large sorted files so that reads stay fast (safe while others write).

        Example: [bold]eventlog compact --store s3://bucket/log --min-lag 60[/]
        """
        opened = open_cli_store(store)
        run = _import_from("eventlog.compactor", "compact")
        with progress_callback(f"compacting {experiment}") as progress:
            policy = {} if min_lag is None else {"min_lag": min_lag}
            report = run(opened, experiment, progress=progress, **policy)
        _print_report(f"compacted {experiment} in {opened.uri}", report)

    @app.command()
    def gc(
        store: StoreOption = None,
        grace: Annotated[float, typer.Option(help="Only delete files unused for this many seconds.")] = 3600.0,
        delete: Annotated[bool, typer.Option("--delete", help="Really delete (default: a dry run that lists).")] = False,
        force: Annotated[bool, typer.Option("--force", help="Allow a grace period under the safe minimum.")] = False,
    ) -> None:
        """Delete compacted-away segments and orphaned files after a grace period (dry run by default).

        Example: [bold]eventlog gc --store ./eventlog --delete[/]
        """
        opened = open_cli_store(store)
        collect = _import_from("eventlog.gc", "collect_garbage")
        with progress_callback("collecting garbage") as progress:
            report = collect(opened, grace=grace, dry_run=not delete, force=force, progress=progress)
        _print_report(("deleted" if delete else "would delete (dry run; add --delete)") + f" in {opened.uri}", report)

    @app.command()
    def recover(store: StoreOption = None) -> None:
        """Turn spool frames left by crashed writers on this machine into segments.

        Example: [bold]eventlog recover --store ./eventlog[/]
        """
        opened = open_cli_store(store)
        run = _import_from("ingest.recovery", "recover")
        count = int(run(opened))
        out_console().print(f"recovered {count} events into {opened.uri}")

    @app.command()
    def serve(
        store: StoreOption = None,
        host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port.")] = 8750,
        token: Annotated[
            str | None, typer.Option(envvar=env.EVENTLOG_TOKEN, help="Bearer token clients must send ($EVENTLOG_TOKEN).")
        ] = None,
    ) -> None:
        """Run the HTTP collector: remote writers log to http://HOST:PORT without store credentials.

        Example: [bold]eventlog serve --store s3://bucket/log --port 8750 --token $TOKEN[/]
        """
        opened = open_cli_store(store)  # fail early, with exit code 1, if the store is unreachable
        run = _import_from("ingest.collector", "serve")
        err_console().print(f"serving {opened.uri} on http://{host}:{port}")
        run(opened.uri, host=host, port=port, token=token)

    importer = typer.Typer(help="Move existing logs in: MLflow file stores, TensorBoard event files, JSON lines.", no_args_is_help=True)
    app.add_typer(importer, name="import")

    @importer.command("mlflow")
    def import_mlflow(
        path: Annotated[Path, typer.Argument(help="An MLflow file store (the mlruns directory).")],
        store: StoreOption = None,
    ) -> None:
        """Import every experiment and run of an MLflow file store.

        Example: [bold]eventlog import mlflow ./mlruns --store ./eventlog[/]
        """
        opened = open_cli_store(store, must_exist=False)  # importing into a new store creates it
        run = _import_from("ingest.importers", "import_mlflow")
        with progress_callback(f"importing {path}") as progress:
            report = run(opened, path, progress=progress)
        _print_report(f"imported {path} into {opened.uri}", report)

    @importer.command("tensorboard")
    def import_tensorboard(
        path: Annotated[Path, typer.Argument(help="A TensorBoard log directory or event file.")],
        store: StoreOption = None,
        experiment: Annotated[str | None, typer.Option(help="Experiment name (default: from the directory).")] = None,
    ) -> None:
        """Import the scalars of TensorBoard event files.

        Example: [bold]eventlog import tensorboard ./runs --experiment mnist[/]
        """
        opened = open_cli_store(store, must_exist=False)  # importing into a new store creates it
        run = _import_from("ingest.importers", "import_tensorboard")
        with progress_callback(f"importing {path}") as progress:
            report = run(opened, path, experiment=experiment, progress=progress)
        _print_report(f"imported {path} into {opened.uri}", report)

    @importer.command("jsonl")
    def import_jsonl(
        path: Annotated[str, typer.Argument(help="A file of JSON lines, one event each, or - for stdin.")],
        store: StoreOption = None,
    ) -> None:
        """Import events from JSON lines (as `eventlog data --format json` and other tools write).

        Example: [bold]eventlog import jsonl events.jsonl --store ./eventlog[/]
        """
        opened = open_cli_store(store, must_exist=False)  # importing into a new store creates it
        run = _import_from("ingest.importers", "import_jsonl")
        with progress_callback(f"importing {path}") as progress:
            if path == "-":
                report = run(opened, sys.stdin, progress=progress)
            else:
                with open(path, encoding="utf-8") as stream:
                    report = run(opened, stream, progress=progress)
        _print_report(f"imported {path} into {opened.uri}", report)
