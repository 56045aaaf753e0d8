"""Running the dashboard: `serve` until interrupted, or `UIThread` in the background of a process.

uvicorn with the collector's bounds (`ingest.http_guard`: header timeout, connection limit). The
store is opened without being created: a mistyped local path is an error, not a new empty store
(the dashboard never writes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eventlog.core.store import Store, open_store, resolve_uri
from eventlog.errors import UserError
from eventlog.ui.app import LOOPBACK_NAMES, create_app
from ingest.http_guard import DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS, ServerThread, server_config

__all__ = ["DEFAULT_PORT", "UIThread", "check_bind", "open_read_only", "serve"]

DEFAULT_PORT = 5000


def open_read_only(store_uri: str | None, storage_options: dict[str, Any] | None = None) -> Store:
    """Open an existing store to read it ($EVENTLOG_URI, else ./.eventlog when `store_uri` is None).

    Raises:
        UserError: a local path that is not a directory (nothing is created), or a collector URL.
        StoreUnavailableError: a remote store cannot be reached.
    """
    uri = resolve_uri(store_uri)
    if uri.startswith(("http://", "https://")):
        raise UserError(f"{uri} is a collector, which only takes events in; pass the store it writes to (its --store)")
    if "://" not in uri and not Path(uri).is_dir():
        raise UserError(f"no store at {uri!r}; pass --store URI or set $EVENTLOG_URI")
    return open_store(uri, storage_options)


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve beyond loopback without a token: anyone reaching the port could read every run.

    Raises:
        ValueError: `host` is not a loopback address and `token` is None.
    """
    if token is None and host not in LOOPBACK_NAMES:
        raise ValueError(
            f"refusing to serve the dashboard on {host} without a token: anyone who reaches it could read the store. "
            "Pass --token (or $EVENTLOG_TOKEN), or listen on 127.0.0.1"
        )


def serve(
    store_uri: str | None = None,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    token: str | None = None,
    *,
    storage_options: dict[str, Any] | None = None,
    log_level: str = "warning",
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> None:
    """Serve the dashboard of a store until interrupted (blocking; Ctrl-C stops it).

    Args:
        store_uri: the store (any URI the query layer reads; None: $EVENTLOG_URI, else ./.eventlog).
        host: interface to listen on (default loopback only).
        port: TCP port (0 picks a free one).
        token: every request must carry it; None: no token (loopback only).
        storage_options: passed to fsspec when opening the store.
        log_level: uvicorn's log level.
        header_timeout: seconds a client may take to send a request's headers.
        max_connections: connections served at once (503 past it).

    Raises:
        UserError: no store at a local path.
        ValueError: a non-loopback `host` without a token.

    Example:
        >>> serve("./.eventlog", port=5000)  # doctest: +SKIP
    """
    import uvicorn

    check_bind(host, token)
    app = create_app(open_read_only(store_uri, storage_options), token=token, warm_up=True)
    config = server_config(
        app, host=host, port=port, header_timeout=header_timeout, max_connections=max_connections, log_level=log_level
    )
    uvicorn.Server(config).run()


class UIThread(ServerThread):
    """The dashboard running in a background thread of this process (tests, notebooks, benchmarks).

    Use it as a context manager; `url` is its base URL once started.

    Args:
        store_uri: the store to show.
        host: interface to listen on.
        port: TCP port; 0 (default) picks a free one.
        token: the token, or None.
        warm_up: fold the runs table the page opens with at once (see `create_app`).

    Example:
        >>> with UIThread("./.eventlog") as ui:  # doctest: +SKIP
        ...     print(ui.url)
    """

    def __init__(
        self, store_uri: str | None, *, host: str = "127.0.0.1", port: int = 0, token: str | None = None, warm_up: bool = False
    ) -> None:

        check_bind(host, token)
        self.store = open_read_only(store_uri)
        self.app = create_app(self.store, token=token, warm_up=warm_up)
        config = server_config(
            self.app, host=host, port=port, header_timeout=DEFAULT_HEADER_TIMEOUT,
            max_connections=DEFAULT_MAX_CONNECTIONS, log_level="error", lifespan="off",
        )  # fmt: skip
        super().__init__(config, name="eventlog-ui", what="the dashboard")

