"""The reading commands of the `eventlog` CLI: experiments, runs, data, summary, compare, files, artifacts."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer

import query
from eventlog.cli.common import StoreOption, open_cli_experiment, open_cli_store
from eventlog.cli.options import (
    EventOption,
    ExperimentArg,
    FormatOption,
    KeyOption,
    OutOption,
    RunOption,
    SinceOption,
    WhereOption,
    event_filters,
    for_people,
    optional_scalar,
    run_value,
)
from eventlog.cli.output import parse_scalar, parse_time, write_frame
from eventlog.cli.run_filter import apply_filter, resolve_column, runs_view
from eventlog.core.artifacts import restore_artifact
from eventlog.core.catalog import list_experiments
from eventlog.core.run_claims import list_runs
from eventlog.errors import UserError

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the reading commands to `app` (the CLI's typer app)."""

    @app.command()
    def experiments(pattern: Annotated[str, typer.Argument(help="Glob on the name.")] = "*", store: StoreOption = None) -> None:
        """List the experiments in the store, one per line: name, a tab, the number of runs.

        Example: [bold]eventlog experiments --store ./.eventlog 'mnist*'[/]
        """
        opened = open_cli_store(store)
        for name in list_experiments(opened, pattern):
            count = len(list_runs(opened, name))
            sys.stdout.write(f"{name}\t{count} run{'' if count == 1 else 's'}\n")

    @app.command()
    def runs(
        experiment: ExperimentArg,
        store: StoreOption = None,
        sort: Annotated[str, typer.Option(help="Column to sort by (run, status, lr, metric.acc, ...).")] = "run",
        desc: Annotated[bool, typer.Option("--desc", help="Sort descending.")] = False,
        filter_: Annotated[list[str] | None, typer.Option("--filter", help="COLUMN OP VALUE, e.g. 'lr>=0.1'; repeatable.")] = None,
        fmt: FormatOption = "table",
        out: OutOption = None,
    ) -> None:
        """One row per run: status, duration, params and the last value of each metric.

        Example: [bold]eventlog runs mnist --sort val/acc --desc --filter status=completed[/]
        """
        opened = open_cli_experiment(store, experiment)
        frame = runs_view(query.runs(opened, experiment))
        for expression in filter_ or []:
            frame = apply_filter(frame, expression)
        if frame.height:
            frame = frame.sort(resolve_column(frame, sort), descending=desc, nulls_last=True)
        write_frame(for_people(frame, fmt), fmt, out=out, title=f"{experiment}: runs")

    @app.command()
    def data(
        experiment: ExperimentArg,
        store: StoreOption = None,
        run: RunOption = "*",
        event: EventOption = None,
        key: KeyOption = None,
        step: Annotated[str | None, typer.Option(help="Step(s).")] = None,
        since: SinceOption = None,
        end: Annotated[str | None, typer.Option(help="Events at or before: an ISO time or 5h, 2d, 1w ago.")] = None,
        where: WhereOption = None,
        fmt: FormatOption = "table",
        out: OutOption = None,
        limit: Annotated[int | None, typer.Option(help="At most this many rows (the newest).")] = None,
    ) -> None:
        """The events of an experiment, filtered (all runs by default).

        Example: [bold]eventlog data mnist --key 'train/*' --run -1 --format csv > loss.csv[/]
        """

        opened = open_cli_experiment(store, experiment)
        filters = event_filters(run, event, key, since, where, options=("run", "event", "key", "step", "since", "end"))
        frame = query.data(opened, experiment, step=optional_scalar(step), end=parse_time(end), lazy=False, **filters)
        assert isinstance(frame, pl.DataFrame)  # lazy=False
        if limit is not None:
            frame = frame.tail(limit)
        write_frame(frame, fmt, out=out, title=f"{experiment}: {frame.height} events", max_rows=None if limit else 200)

    @app.command()
    def summary(
        experiment: ExperimentArg,
        store: StoreOption = None,
        run: RunOption = "*",
        key: Annotated[str | None, typer.Option(help="Metric key(s) or glob.")] = None,
        by_run: Annotated[bool, typer.Option("--by-run", help="One row per run and key.")] = False,
        fmt: FormatOption = "table",
        out: OutOption = None,
    ) -> None:
        """Statistics of the metrics: count, mean, std, min, quartiles, max, first, last.

        Example: [bold]eventlog summary mnist --by-run --key val/acc[/]
        """

        opened = open_cli_experiment(store, experiment)
        filters = {} if key is None else {"key": parse_scalar(key)}
        frame = query.summary(opened, experiment, run=run_value(run), by_run=by_run, **filters)
        write_frame(frame, fmt, out=out, title=f"{experiment}: summary")

    @app.command()
    def compare(
        experiment: ExperimentArg,
        metric: Annotated[str, typer.Argument(help="The metric to rank by.")],
        store: StoreOption = None,
        mode: Annotated[str, typer.Option(help="max (higher is better) or min.")] = "max",
        by: Annotated[str, typer.Option(help="Rank by the metric's last value per run, or its best.")] = "last",
        run: RunOption = "*",
        fmt: FormatOption = "table",
        out: OutOption = None,
    ) -> None:
        """Runs side by side, best first by METRIC, with their params and metrics.

        Example: [bold]eventlog compare mnist val/acc[/]  or  [bold]eventlog compare mnist loss --mode min --by best[/]
        """

        opened = open_cli_experiment(store, experiment)
        if mode not in ("max", "min") or by not in ("last", "best"):
            raise UserError(f"--mode must be max or min (got {mode!r}) and --by last or best (got {by!r})")
        frame = query.compare(opened, experiment, metric, mode=mode, by=by, run=run_value(run))  # type: ignore[arg-type]
        write_frame(for_people(frame, fmt), fmt, out=out, title=f"{experiment}: runs by {metric} ({mode}, {by})")

    @app.command()
    def files(
        experiment: Annotated[str, typer.Argument(help="Experiment name or glob.")] = "*",
        store: StoreOption = None,
        run: RunOption = "*",
        since: SinceOption = None,
        end: Annotated[str | None, typer.Option(help="Events at or before: an ISO time or 5h, 2d, 1w ago.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object: files, manifest version, valid_until.")] = False,
        pin: Annotated[str | None, typer.Option(help="Keep the files from gc this long (3600, 2d); prints the pin id.")] = None,
        unpin: Annotated[str | None, typer.Option(help="Remove a pin made with --pin (by its id), and list nothing.")] = None,
    ) -> None:
        """Print the Parquet files of the current snapshot that may hold matching events, for DuckDB, Spark or pyarrow.

        The list is guaranteed for gc's minimum grace (300 s; --json says until when); --pin holds it longer.

        Example: [bold]duckdb -c "select count(*) from read_parquet([$(eventlog files mnist | sed "s/.*/'&'/" | paste -sd,)])"[/]
        """
        opened = open_cli_store(store)
        if unpin is not None:
            query.unpin(opened, unpin)
            sys.stdout.write(f"removed pin {unpin}\n")
            return
        runs = run_value(run)
        numbers = [runs] if isinstance(runs, int) else runs if isinstance(runs, list) else None
        if runs != "*" and not (numbers and all(isinstance(r, int) and r > 0 for r in numbers)):
            raise UserError(f"--run for files takes run numbers (3, or 1,2), got {run!r}")
        filters: dict[str, Any] = {"run": None if runs == "*" else runs, "since": parse_time(since), "end": parse_time(end)}
        if pin is not None:
            listed = query.pin_files(opened, experiment, hold=float(pin) if pin.replace(".", "", 1).isdigit() else pin, **filters)
        else:
            listed = query.list_files(opened, experiment, **filters)
        if as_json:
            sys.stdout.write(json.dumps(listed.to_json()) + "\n")
            return
        for url in listed.urls:
            sys.stdout.write(url + "\n")
        if listed.pin is not None:
            sys.stderr.write(f"pinned until {listed.valid_until.isoformat()}: eventlog files --unpin {listed.pin}\n")

    @app.command()
    def artifacts(
        experiment: ExperimentArg,
        store: StoreOption = None,
        run: RunOption = "*",
        key: Annotated[str | None, typer.Option(help="Artifact name(s) or glob.")] = None,
        restore: Annotated[Path | None, typer.Option(help="Download the file artifacts into this directory.")] = None,
        fmt: FormatOption = "table",
    ) -> None:
        """List a run's artifacts (name, format, size, sha256); with --restore DIR, fetch the files and directories.

        Example: [bold]eventlog artifacts mnist --run -1 --restore ./models[/]
        """
        opened = open_cli_experiment(store, experiment)
        frame = query.data(opened, experiment, run=run_value(run), event="artifact", key=optional_scalar(key), lazy=False)
        assert isinstance(frame, pl.DataFrame)  # lazy=False
        rows = []
        for row in frame.iter_rows(named=True):
            ref = json.loads(row["value_json"] or "{}")
            where = ref.get("path") or (f"{ref.get('dirname')}/ ({len(ref.get('files', []))} files)" if ref.get("format") == "dir" else json.dumps(ref.get("data"))[:60])
            if restore is not None and ref.get("format") in ("file", "dir"):
                # never a pickle: the command line does not run code from the store
                where = str(restore_artifact(opened, ref, experiment=row["experiment"], run=row["run"], dest=restore, allow_pickle=False))
            rows.append({"run": row["run"], "step": row["step"], "name": row["key"], "format": ref.get("format"),
                         "size": ref.get("size"), "sha256": ref.get("sha256"), "where": where})
        write_frame(pl.DataFrame(rows, schema_overrides={"step": pl.Int64}), fmt, title=f"{experiment}: artifacts")
