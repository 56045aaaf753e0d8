"""`eventlog ui`: the dashboard of a store in the browser (runs table, curves, run pages), read only.

`eventlog.ui` is imported only when the command runs: it loads the ASGI stack (starlette,
uvicorn), which every other command would otherwise pay for at start-up.
"""

from __future__ import annotations

from typing import Annotated

import typer

from eventlog import env
from eventlog.cli.common import StoreOption, open_cli_store
from eventlog.cli.output import err_console
from eventlog.errors import UserError

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the `ui` command to `app` (the CLI's typer app)."""

    @app.command()
    def ui(
        store: StoreOption = None,
        host: Annotated[str, typer.Option(help="Interface to listen on (beyond 127.0.0.1 only with --token).")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port.")] = 5000,
        token: Annotated[
            str | None, typer.Option(envvar=env.EVENTLOG_TOKEN, help="Every request must carry it ($EVENTLOG_TOKEN).")
        ] = None,
    ) -> None:
        """Open the dashboard: runs tables, live curves of any runs, run pages; it never writes to the store.

        Example: [bold]eventlog ui --store ./.eventlog[/], then open http://127.0.0.1:5000/
        """
        import eventlog.ui  # lazy: see the module docstring
        from eventlog.ui.server import check_bind

        try:
            check_bind(host, token)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        opened = open_cli_store(store)  # fail early, with exit code 1, if there is no store there
        shown = f"[{host}]" if ":" in host else host
        link = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
        err_console().print(f"dashboard of {opened.uri} on {link} (Ctrl-C stops it)", highlight=False, soft_wrap=True)
        eventlog.ui.serve(opened.uri, host=host, port=port, token=token)
