"""The `eventlog` command line: look at runs, data, summaries and plots; follow, compact, serve, import.

Every command takes `--store URI` (or `$EVENTLOG_URI`; default `./eventlog`). Exit codes: 0 ok,
1 a user error (the store cannot be opened, an unknown experiment or column, bad input; the
message on stderr says what to do), 2 a usage error (unknown option, missing argument).

Run it as `eventlog ...` or `python -m eventlog.cli ...`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer

from eventlog import env
from eventlog._cli_common import StoreOption, UserError, open_cli_experiment, open_cli_store
from eventlog._cli_output import err_console, format_duration, parse_scalar, parse_time, write_frame
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

ExperimentArg = Annotated[str, typer.Argument(help="Experiment name.", show_default=False)]
RunOption = Annotated[str, typer.Option("--run", "-r", help="Runs: 3, 1,2, -1 (latest), or * (all).")]
FormatOption = Annotated[str, typer.Option("--format", "-f", help="table, csv, json or parquet.")]
OutOption = Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")]
EventOption = Annotated[str | None, typer.Option(help="Event kind(s): metric, param, ... (glob, a,b).")]
KeyOption = Annotated[str | None, typer.Option(help="Key(s): loss, 'train/*', a,b.")]
SinceOption = Annotated[str | None, typer.Option(help="Events at or after: an ISO time or 5h, 2d, 1w.")]
WhereOption = Annotated[list[str] | None, typer.Option(help="EXTRA=VALUE on an extra column, e.g. tag=v1.5; repeatable.")]


@app.callback()
def _everywhere(store: StoreOption = None) -> None:
    """Look at, follow and maintain an eventlog store (local directory, s3://bucket/prefix, ...).

    `--store` may also come before the command: `eventlog --store s3://bucket/log runs mnist`.
    """
    if store is not None:
        os.environ[env.EVENTLOG_URI] = store  # the commands' own --store option falls back to it


def _for_people(frame: pl.DataFrame, fmt: str) -> pl.DataFrame:
    """In a table, `duration_s` becomes a readable `duration` (CSV/JSON keep seconds)."""
    if fmt != "table" or "duration_s" not in frame.columns:
        return frame
    durations = frame["duration_s"].map_elements(format_duration, return_dtype=pl.String)
    return frame.with_columns(durations.alias("duration_s")).rename({"duration_s": "duration"})


def _where_filters(where: list[str] | None, *, options: tuple[str, ...]) -> dict[str, Any]:
    """`--where EXTRA=VALUE` options as filters on extra columns.

    Args:
        where: the `--where` values.
        options: the filters the command has an option of its own for (`run`, `key`, ...).

    Raises:
        UserError: an option without `=`, or one naming a filter that has its own option (it
            would override that option, or clash with it).
    """
    extra: dict[str, Any] = {}
    for item in where or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--where {item!r}: write EXTRA=VALUE, e.g. --where tag=v1.5")
        if name in options:
            raise UserError(f"--where {item!r}: {name} has its own option; use --{name} {value}")
        extra[name] = parse_scalar(value)
    return extra


def _run_value(text: str) -> Any:
    return "*" if text in ("*", "all") else parse_scalar(text)


def _event_filters(
    run: str, event: str | None, key: str | None, since: str | None, where: list[str] | None, *, options: tuple[str, ...]
) -> dict[str, Any]:
    """The filters `data` and `tail` share, as keywords of `query.data`/`query.tail.follow`.

    Raises:
        UserError: a bad `--where` (see `_where_filters`, which gets `options`).
        ValueError: a `--since` that is neither a duration nor an ISO time.
    """
    return {
        "run": _run_value(run),
        "event": _optional_scalar(event),
        "key": _optional_scalar(key),
        "since": parse_time(since),
        **_where_filters(where, options=options),
    }


def _optional_scalar(text: str | None) -> Any:
    return None if text is None else parse_scalar(text)


@app.command()
def experiments(pattern: Annotated[str, typer.Argument(help="Glob on the name.")] = "*", store: StoreOption = None) -> None:
    """List the experiments in the store, one per line: name, a tab, the number of runs.

    Example: [bold]eventlog experiments --store ./eventlog 'mnist*'[/]
    """
    from eventlog.catalog import list_experiments
    from eventlog.run_claims import list_runs

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
    import query
    from eventlog._cli_runs import apply_filter, resolve_column, runs_view

    opened = open_cli_experiment(store, experiment)
    frame = runs_view(query.runs(opened, experiment))
    for expression in filter_ or []:
        frame = apply_filter(frame, expression)
    if frame.height:
        frame = frame.sort(resolve_column(frame, sort), descending=desc, nulls_last=True)
    write_frame(_for_people(frame, fmt), fmt, out=out, title=f"{experiment}: runs")


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
    import query

    opened = open_cli_experiment(store, experiment)
    filters = _event_filters(run, event, key, since, where, options=("run", "event", "key", "step", "since", "end"))
    frame = query.data(opened, experiment, step=_optional_scalar(step), end=parse_time(end), lazy=False, **filters)
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
    import query

    opened = open_cli_experiment(store, experiment)
    filters = {} if key is None else {"key": parse_scalar(key)}
    frame = query.summary(opened, experiment, run=_run_value(run), by_run=by_run, **filters)
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
    import query

    opened = open_cli_experiment(store, experiment)
    if mode not in ("max", "min") or by not in ("last", "best"):
        raise UserError(f"--mode must be max or min (got {mode!r}) and --by last or best (got {by!r})")
    frame = query.compare(opened, experiment, metric, mode=mode, by=by, run=_run_value(run))  # type: ignore[arg-type]
    write_frame(_for_people(frame, fmt), fmt, out=out, title=f"{experiment}: runs by {metric} ({mode}, {by})")


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
    from query.plot import plot_metric, save_plot

    opened = open_cli_experiment(store, experiment)
    figure = plot_metric(opened, experiment, parse_scalar(key), run=_run_value(run), title=title, smooth=smooth)
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
    from query.tail import follow, format_event

    opened = open_cli_experiment(store, experiment)

    def ready() -> None:
        sys.stderr.write(f"following {experiment} in {opened.uri} (Ctrl-C to stop)\n")
        sys.stderr.flush()

    filters = _event_filters(run, event, key, since, where, options=("run", "event", "key", "since"))
    try:
        for row in follow(opened, experiment, last=lines, interval=interval, limit=limit, timeout=timeout, on_ready=ready, **filters):
            text = json.dumps(row, default=str) if as_json else format_event(row)
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass


@app.command()
def files(experiment: Annotated[str, typer.Argument(help="Experiment name or glob.")] = "*", store: StoreOption = None) -> None:
    """Print the Parquet files of the current snapshot, for DuckDB, Spark or pyarrow.

    Example: [bold]duckdb -c "select count(*) from read_parquet([$(eventlog files mnist | sed "s/.*/'&'/" | paste -sd,)])"[/]
    """
    import query

    for url in query.files(open_cli_store(store), experiment):
        sys.stdout.write(url + "\n")


@app.command()
def artifacts(
    experiment: ExperimentArg,
    store: StoreOption = None,
    run: RunOption = "*",
    key: Annotated[str | None, typer.Option(help="Artifact name(s) or glob.")] = None,
    restore: Annotated[Path | None, typer.Option(help="Download the file artifacts into this directory.")] = None,
    fmt: FormatOption = "table",
) -> None:
    """List a run's artifacts (name, format, size, sha256); with --restore DIR, fetch the files.

    Example: [bold]eventlog artifacts mnist --run -1 --restore ./models[/]
    """
    import query
    from eventlog.artifacts import restore_artifact

    opened = open_cli_experiment(store, experiment)
    frame = query.data(opened, experiment, run=_run_value(run), event="artifact", key=_optional_scalar(key), lazy=False)
    assert isinstance(frame, pl.DataFrame)  # lazy=False
    rows = []
    for row in frame.iter_rows(named=True):
        ref = json.loads(row["value_json"] or "{}")
        where = ref.get("path") or json.dumps(ref.get("data"))[:60]
        if restore is not None and ref.get("format") == "file":
            where = str(restore_artifact(opened, ref, dest=restore))
        rows.append({"run": row["run"], "step": row["step"], "name": row["key"], "format": ref.get("format"),
                     "size": ref.get("size"), "sha256": ref.get("sha256"), "where": where})
    write_frame(pl.DataFrame(rows, schema_overrides={"step": pl.Int64}), fmt, title=f"{experiment}: artifacts")


def _register_operations() -> None:
    from eventlog._cli_ops import register

    register(app)


_register_operations()

_USER_ERRORS: tuple[type[BaseException], ...] = (EventLogError, ValueError, LookupError, OSError)  # LookupError: KeyError too


def main(argv: list[str] | None = None) -> None:
    """Run the CLI (the `eventlog` script); user errors print `error: ...` on stderr and exit 1."""
    try:
        app(args=argv, prog_name="eventlog")
    except _USER_ERRORS as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        sys.stderr.write(f"error: {message}\n")  # plain and unwrapped: scripts grep it
        sys.exit(1)


if __name__ == "__main__":
    main()
