"""Bounds on what one HTTP client can hold of the collector: connections, header time, decodes.

uvicorn times out idle keep-alive connections and request bodies are bounded in the app, but a
client that opens a connection and sends its headers slowly (or never) holds a socket and a file
descriptor for as long as it likes: 1,100 such connections stopped the service at the fd limit.
`HeaderTimeoutProtocol` closes a connection whose request headers have not all arrived within
`header_timeout` seconds of it opening (or of the previous response), as nginx's
`client_header_timeout` does. `raise_fd_limit` lifts the soft fd limit to the hard one, and
`server_config` puts these together with uvicorn's `limit_concurrency` (a 503 past it).
"""

from __future__ import annotations

import asyncio
import resource
import threading
import time
from typing import Any, Self

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = [
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_MAX_CONNECTIONS",
    "HeaderTimeoutProtocol",
    "ServerThread",
    "raise_fd_limit",
    "server_config",
]

#: Seconds a client has to send a request's headers (nginx's default is 60; batches are small).
DEFAULT_HEADER_TIMEOUT = 10.0
#: Connections served at once; past it uvicorn answers 503 (clients retry with backoff).
DEFAULT_MAX_CONNECTIONS = 512


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request headers are too slow to arrive."""

    header_timeout = DEFAULT_HEADER_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start serving the connection, and the clock for its first request's headers."""
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        self._waiting_after = self.cycle  # the headers are in once a new cycle replaces this one
        self._header_timer: asyncio.TimerHandle | None = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def handle_events(self) -> None:
        """Parse what arrived; once a request's headers are complete, stop the clock."""
        super().handle_events()
        if self.cycle is not self._waiting_after:
            self._disarm()

    def on_response_complete(self) -> None:
        """The response went out: the next request's headers have `header_timeout` seconds too."""
        self._disarm()
        if not self.transport.is_closing():
            self._arm()  # before super(): it may parse a pipelined request at once, which disarms
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection is gone: nothing to time out."""
        self._disarm()
        super().connection_lost(exc)

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.cycle is self._waiting_after and not self.transport.is_closing():
            self.transport.close()


def raise_fd_limit() -> int:
    """Lift this process's soft limit of open files to its hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
        except (ValueError, OSError):
            return soft
    return soft


def server_config(app: Any, *, host: str, port: int, header_timeout: float, max_connections: int, **options: Any) -> Any:
    """A `uvicorn.Config` for `app` with the header timeout and the connection limit."""
    import uvicorn

    protocol = type("BoundedH11Protocol", (HeaderTimeoutProtocol,), {"header_timeout": header_timeout})
    return uvicorn.Config(app, host=host, port=port, http=protocol, limit_concurrency=max_connections, **options)


class ServerThread:
    """A uvicorn server in a daemon thread of this process (the collector's and the dashboard's).

    Use it as a context manager; `url` is its base URL once started.

    Args:
        config: the uvicorn Config (see `server_config`).
        name: the thread's name.
        what: what is served, for the error message (`the collector`).
    """

    def __init__(self, config: Any, *, name: str, what: str) -> None:
        import uvicorn

        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=name, daemon=True)
        self._what = what
        self.url = ""

    def start(self, timeout: float = 10.0) -> Self:
        """Start serving and wait until the socket listens.

        Raises:
            RuntimeError: the server did not start within `timeout` seconds.
        """
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self._what} did not start (is the port in use?)")
            time.sleep(0.01)  # polling a flag uvicorn sets from its thread; no event to wait on
        host, port = self._server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down gracefully: stop accepting, finish requests in flight, join the thread."""
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
