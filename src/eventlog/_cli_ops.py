"""Maintenance and ingest commands of the `eventlog` CLI: compact, gc, recover, serve, import.

Each one calls into the module that owns the work, imported only when the command runs (so that
the other commands start without it), and shows a progress bar on stderr for long work.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from eventlog import env
from eventlog._cli_common import StoreOption, open_cli_store
from eventlog._cli_output import err_console, out_console, progress_callback

if TYPE_CHECKING:
    from eventlog.compactor import CompactionReport
    from eventlog.gc import GcReport
    from ingest.importers import ImportReport

__all__ = ["register"]


def _print_report(title: str, report: CompactionReport | GcReport | ImportReport) -> None:
    """Print `title`, then one `  field: value` line per field of the report (long lists as a count)."""
    console = out_console()
    console.print(title)
    for name, value in dataclasses.asdict(report).items():
        if isinstance(value, list | tuple | set) and len(value) > 10:
            value = f"{len(value)} items"
        console.print(f"  {name}: {value}")


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
        from eventlog import compactor

        opened = open_cli_store(store)
        with progress_callback(f"compacting {experiment}") as progress:
            policy: dict[str, Any] = {} if min_lag is None else {"min_lag": min_lag}
            report = compactor.compact(opened, experiment, progress=progress, **policy)
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
        from eventlog.gc import collect_garbage

        opened = open_cli_store(store)
        with progress_callback("collecting garbage") as progress:
            report = collect_garbage(opened, grace=grace, dry_run=not delete, force=force, progress=progress)
        _print_report(("deleted" if delete else "would delete (dry run; add --delete)") + f" in {opened.uri}", report)

    @app.command()
    def recover(store: StoreOption = None) -> None:
        """Turn spool frames left by crashed writers on this machine into segments.

        Example: [bold]eventlog recover --store ./eventlog[/]
        """
        from ingest import recovery

        opened = open_cli_store(store)
        count = recovery.recover(opened)
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
        from ingest import collector

        opened = open_cli_store(store)  # fail early, with exit code 1, if the store is unreachable
        err_console().print(f"serving {opened.uri} on http://{host}:{port}")
        collector.serve(opened.uri, host=host, port=port, token=token)

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
        from ingest import importers

        opened = open_cli_store(store, must_exist=False)  # importing into a new store creates it
        with progress_callback(f"importing {path}") as progress:
            report = importers.import_mlflow(opened, path, progress=progress)
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
        from ingest import importers

        opened = open_cli_store(store, must_exist=False)  # importing into a new store creates it
        with progress_callback(f"importing {path}") as progress:
            report = importers.import_tensorboard(opened, path, experiment=experiment, progress=progress)
        _print_report(f"imported {path} into {opened.uri}", report)

    @importer.command("jsonl")
    def import_jsonl(
        path: Annotated[str, typer.Argument(help="A file of JSON lines, one event each, or - for stdin.")],
        store: StoreOption = None,
    ) -> None:
        """Import events from JSON lines (as `eventlog data --format json` and other tools write).

        Example: [bold]eventlog import jsonl events.jsonl --store ./eventlog[/]
        """
        from ingest import importers

        opened = open_cli_store(store, must_exist=False)  # importing into a new store creates it
        with progress_callback(f"importing {path}") as progress:
            if path == "-":
                report = importers.import_jsonl(opened, sys.stdin, progress=progress)
            else:
                with open(path, encoding="utf-8") as stream:
                    report = importers.import_jsonl(opened, stream, progress=progress)
        _print_report(f"imported {path} into {opened.uri}", report)
