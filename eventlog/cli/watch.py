"""Looking at curves and following runs from the `eventlog` CLI: plot, tail."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from eventlog.cli.common import StoreOption, open_cli_experiment
from eventlog.cli.options import (
    EventOption,
    ExperimentArg,
    KeyOption,
    RunOption,
    SinceOption,
    WhereOption,
    event_filters,
    run_value,
)
from eventlog.cli.output import err_console, json_line, parse_scalar
from query.plot import plot_metric, save_plot
from query.tail import follow, format_event

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add `plot` and `tail` to `app` (the CLI's typer app)."""

    @app.command()
    def plot(
        experiment: ExperimentArg,
        key: Annotated[str, typer.Argument(help="Metric key, list a,b or glob 'train/*' (one panel per key).")],
        out: Annotated[Path, typer.Option("--out", "-o", help="Output file: .png, .svg, .pdf or .html.")],
        store: StoreOption = None,
        run: RunOption = "*",
        title: Annotated[str | None, typer.Option(help="Figure title.")] = None,
        smooth: Annotated[float, typer.Option(help="Smoothing weight in [0, 1), as in TensorBoard (e.g. 0.9).")] = 0.0,
    ) -> None:
        """Plot a metric against step, one line per run, into a PNG (or SVG, PDF, HTML) file.

        Example: [bold]eventlog plot mnist val/acc --smooth 0.9 --out val_acc.png[/]
        """
        opened = open_cli_experiment(store, experiment)
        figure = plot_metric(opened, experiment, parse_scalar(key), run=run_value(run), title=title, smooth=smooth)
        path = save_plot(figure, out)
        err_console().print(f"wrote {path} ({path.stat().st_size:,} bytes)")

    @app.command()
    def tail(
        experiment: ExperimentArg,
        store: StoreOption = None,
        run: RunOption = "*",
        event: EventOption = None,
        key: KeyOption = None,
        since: SinceOption = None,
        where: WhereOption = None,
        lines: Annotated[int, typer.Option("--lines", "-n", help="Show this many existing events first.")] = 10,
        interval: Annotated[float, typer.Option(help="Seconds between polls.")] = 1.0,
        limit: Annotated[int | None, typer.Option(help="Exit after this many new events.")] = None,
        timeout: Annotated[float | None, typer.Option(help="Exit after this many seconds.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    ) -> None:
        """Follow an experiment: print events as they land in the store, like `tail -f` (Ctrl-C stops).

        Example: [bold]eventlog tail mnist --event metric --key 'val/*'[/]
        """
        opened = open_cli_experiment(store, experiment)

        def ready() -> None:
            sys.stderr.write(f"following {experiment} in {opened.uri} (Ctrl-C to stop)\n")
            sys.stderr.flush()

        filters = event_filters(run, event, key, since, where, options=("run", "event", "key", "since"))
        try:
            for row in follow(opened, experiment, last=lines, interval=interval, limit=limit, timeout=timeout, on_ready=ready, **filters):
                text = json_line(row) if as_json else format_event(row)
                sys.stdout.write(text + "\n")
                sys.stdout.flush()
        except KeyboardInterrupt:
            pass
