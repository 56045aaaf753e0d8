"""`eventlog import mlflow|tensorboard|jsonl`: move existing logs into a store (see `ingest.importers`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from eventlog.cli.common import StoreOption, open_cli_store
from eventlog.cli.output import print_report, progress_callback
from eventlog.errors import UserError
from ingest import importers

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the `import` command group to `app` (the CLI's typer app)."""
    importer = typer.Typer(
        help="Move existing logs in: MLflow stores, TensorBoard event files, JSON lines.", no_args_is_help=True
    )
    app.add_typer(importer, name="import")

    @importer.command("mlflow")
    def import_mlflow(
        path: Annotated[
            str, typer.Argument(help="A tracking URI (sqlite:///mlflow.db, http://host:5000), mlflow.db or an mlruns directory.")
        ],
        store: StoreOption = None,
    ) -> None:
        """Import every experiment and run of an MLflow store, through MLflow's own client (the `importers` extra).

        Importing again is an upsert: runs that grew gain their new events, nothing is written twice.

        Example: [bold]eventlog import mlflow sqlite:///mlflow.db --store ./.eventlog[/]
        """
        opened = open_cli_store(store, must_exist=False)  # importing into a new store creates it
        with progress_callback(f"importing {path}") as progress:
            report = importers.import_mlflow(opened, path, progress=progress)
        print_report(f"imported {path} into {opened.uri}", report)

    @importer.command("tensorboard")
    def import_tensorboard(
        path: Annotated[Path, typer.Argument(help="A TensorBoard log directory or event file.")],
        store: StoreOption = None,
        experiment: Annotated[str | None, typer.Option(help="Experiment name (default: from the directory).")] = None,
    ) -> None:
        """Import the scalars and hparams of TensorBoard event files, every record CRC-checked (the `importers` extra).

        Example: [bold]eventlog import tensorboard ./runs --experiment mnist[/]
        """
        opened = open_cli_store(store, must_exist=False)  # importing into a new store creates it
        with progress_callback(f"importing {path}") as progress:
            report = importers.import_tensorboard(opened, path, experiment=experiment, progress=progress)
        print_report(f"imported {path} into {opened.uri}", report)

    @importer.command("jsonl")
    def import_jsonl(
        path: Annotated[str, typer.Argument(help="A file of JSON lines, one event each, or - for stdin.")],
        store: StoreOption = None,
    ) -> None:
        """Import events from JSON lines (as `eventlog data --format json` and other tools write).

        Example: [bold]eventlog import jsonl events.jsonl --store ./.eventlog[/]
        """
        opened = open_cli_store(store, must_exist=False)  # importing into a new store creates it
        with progress_callback(f"importing {path}") as progress:
            if path == "-":
                report = importers.import_jsonl(opened, sys.stdin, progress=progress)
            else:
                with open(path, encoding="utf-8") as stream:
                    report = importers.import_jsonl(opened, stream, progress=progress)
        print_report(f"imported {path} into {opened.uri}", report)
        if report.errors:  # the good lines are in; a script must still learn that some were not
            raise UserError(f"{report.skipped} line(s) of {path} were rejected (listed above); the other lines were imported")
