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
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["DEFAULT_HEADER_TIMEOUT", "DEFAULT_MAX_CONNECTIONS", "HeaderTimeoutProtocol", "raise_fd_limit", "server_config"]

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
