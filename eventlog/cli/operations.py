"""Maintenance commands of the `eventlog` CLI: compact, gc, recover, serve.

Each one calls into the module that owns the work and shows a progress bar on stderr for long
work. `ingest.collector` is imported only when `serve` runs: it loads the ASGI stack (starlette,
uvicorn), which every other command would otherwise pay for at start-up.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from eventlog import env
from eventlog.cli.common import StoreOption, open_cli_store
from eventlog.cli.output import err_console, out_console, print_report, progress_callback
from eventlog.compaction import CompactionReport, CompactionWatcher, GcReport, collect_garbage
from eventlog.compaction import compact as compact_store
from eventlog.errors import UserError
from ingest import recovery

__all__ = ["SERVE_COMPACT_EVERY_S", "SERVE_GC_GRACE_S", "register"]

#: The collector owns its store, so by default it compacts it and collects its garbage: every
#: minute, and an hour after a compaction made files unused (DESIGN §3's default grace period).
SERVE_COMPACT_EVERY_S = 60.0
SERVE_GC_GRACE_S = 3600.0


def register(app: typer.Typer) -> None:
    """Add the maintenance commands to `app` (the CLI's typer app)."""

    @app.command()
    def compact(
        experiment: Annotated[str, typer.Argument(help="Experiment name or glob.")] = "*",
        store: StoreOption = None,
        min_lag: Annotated[float | None, typer.Option(help="Only merge segments at least this many seconds old.")] = None,
        watch: Annotated[bool, typer.Option("--watch", help="Keep compacting every --every seconds (automatic policy).")] = False,
        every: Annotated[float, typer.Option(help="With --watch: seconds between cycles.")] = 60.0,
        cycles: Annotated[int | None, typer.Option(help="With --watch: stop after this many cycles (default: never).")] = None,
        gc_grace: Annotated[
            float | None, typer.Option(help="With --watch: also delete unused files older than this many seconds.")
        ] = None,
    ) -> None:
        """Merge small segments into large sorted files so that reads stay fast (safe while others write).

        With --watch it runs until interrupted: a partition is merged once it holds 8 inputs at least
        30 s old (--min-lag overrides); any number of watchers may share a store.

        Example: [bold]eventlog compact --store s3://bucket/log --watch --every 60 --gc-grace 3600[/]
        """
        opened = open_cli_store(store)
        policy: dict[str, Any] = {} if min_lag is None else {"min_lag": min_lag}
        if watch:
            _watch(opened, experiment, every, cycles, gc_grace, policy)
            return
        with progress_callback(f"compacting {experiment}") as progress:
            report = compact_store(opened, experiment, progress=progress, **policy)
        print_report(f"compacted {experiment} in {opened.uri}", report)

    @app.command()
    def gc(
        store: StoreOption = None,
        grace: Annotated[float, typer.Option(help="Only delete files unused for this many seconds.")] = 3600.0,
        delete: Annotated[bool, typer.Option("--delete", help="Really delete (default: a dry run that lists).")] = False,
        force: Annotated[bool, typer.Option("--force", help="Allow a grace period under the safe minimum.")] = False,
    ) -> None:
        """Delete compacted-away segments and orphaned files after a grace period (dry run by default).

        Example: [bold]eventlog gc --store ./.eventlog --delete[/]
        """
        opened = open_cli_store(store)
        with progress_callback("collecting garbage") as progress:
            report = collect_garbage(opened, grace=grace, dry_run=not delete, force=force, progress=progress)
        print_report(("deleted" if delete else "would delete (dry run; add --delete)") + f" in {opened.uri}", report)

    @app.command()
    def recover(store: StoreOption = None) -> None:
        """Turn spool frames left by crashed writers on this machine into segments.

        Example: [bold]eventlog recover --store ./.eventlog[/]
        """
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
        allow_anonymous: Annotated[
            bool, typer.Option(help="Listen beyond 127.0.0.1 without a token: anyone who reaches the port can write.")
        ] = False,
        compact_every: Annotated[
            float,
            typer.Option(help="Compact the store every this many seconds, as compact --watch does (0: never)."),
        ] = SERVE_COMPACT_EVERY_S,
        gc_grace: Annotated[
            float | None,
            typer.Option(
                help="Each compaction cycle also deletes the files a compaction made unused this many seconds ago "
                f"(at least 300; 0: never) [default: {SERVE_GC_GRACE_S:g}]",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Run the HTTP collector: remote writers log to http://HOST:PORT without store credentials.

        A new local store is created, as `eventlog.open()` does. The collector owns the store: it
        compacts it every minute and deletes what compaction made unused an hour later, so that
        readers meet few files (--compact-every 0 and --gc-grace 0 turn these off).

        Example: [bold]eventlog serve --store s3://bucket/log --port 8750 --token $TOKEN[/]
        """
        from ingest import collector  # lazy: see the module docstring

        try:
            collector.check_bind(host, token, allow_anonymous=allow_anonymous)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        opened = open_cli_store(store, must_exist=False)  # fail early, with exit code 1, if the store is unreachable
        for option, seconds in (("--compact-every", compact_every), ("--gc-grace", gc_grace)):
            if seconds is not None and seconds < 0:
                raise UserError(f"{option} {seconds:g}: give a number of seconds, or 0 for never")
        if gc_grace and not compact_every:
            raise UserError("--gc-grace needs compaction (--compact-every above 0): garbage is collected by its cycles")
        if gc_grace is None:
            gc_grace = SERVE_GC_GRACE_S if compact_every else 0.0
        try:
            watcher = CompactionWatcher(opened, every=compact_every, gc_grace=gc_grace or None) if compact_every else None
        except ValueError as exc:  # UnsafeGraceError is one
            raise UserError(str(exc)) from None
        if watcher is not None:
            watcher.start()
        err_console().print(f"serving {opened.uri} on http://{host}:{port}{_upkeep(compact_every, gc_grace)}")
        try:
            collector.serve(opened.uri, host=host, port=port, token=token, allow_anonymous=allow_anonymous)
        finally:
            if watcher is not None:
                watcher.stop(timeout=5)


def _upkeep(compact_every: float, gc_grace: float) -> str:
    """What a collector does to its store besides taking events in, for its banner."""
    if not compact_every:
        return ", not compacting"
    collecting = f", deleting unused files after {gc_grace:g} s" if gc_grace else ", never deleting unused files"
    return f", compacting every {compact_every:g} s{collecting}"


def _watch(store: Any, experiment: str, every: float, cycles: int | None, gc_grace: float | None, policy: dict[str, Any]) -> None:
    """`compact --watch`: cycles until Ctrl-C, one line per cycle that did something."""

    def show(report: CompactionReport, collected: GcReport | None) -> None:
        if report.partitions or report.failed or (collected is not None and collected.files):
            out_console().print(f"{report}" + (f"; gc {collected}" if collected is not None and collected.files else ""))

    try:
        watcher = CompactionWatcher(store, experiment, every=every, gc_grace=gc_grace, on_cycle=show, **policy)
    except ValueError as exc:  # UnsafeGraceError is one
        raise UserError(str(exc)) from None
    err_console().print(f"compacting {experiment} in {store.uri} every {every:g} s (Ctrl-C stops)")
    try:
        watcher.run(cycles)
    except KeyboardInterrupt:
        pass
