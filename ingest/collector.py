"""The HTTP collector (`eventlog serve`): remote writers send event batches, it writes segments.

A Starlette app on uvicorn. Starlette because it is a small, well-kept ASGI toolkit (no ORM, no
validation framework to fight: msgspec does the validation), with a test client and a clean
lifespan; uvicorn is its reference server. Endpoints:

- `POST /v1/events`: a msgpack batch, rows or columns (`ingest.wire`). Answered 200 `{"events": n,
  "created": c}` (c: segments this request created) only after every segment of the batch is
  published in the store with create-if-absent (durable, and idempotent: a retried batch creates
  nothing new). 400 names the
  first bad event and field; 401 without the right bearer token; 408 when the body arrives too
  slowly; 413 when it is larger than `max_body_bytes`; 503 when the store fails (retry).
- `POST /v1/runs/claim` (JSON `{"experiment", "writer", "job"}` → `{"run": n}`) and
  `GET /v1/runs/latest?experiment=x` → `{"run": n | null}`: run numbers (`eventlog.core.run_claims`).
- `GET /v1/info` → `{"store": uri}`; `GET /healthz` (no token); `GET /metrics` (Prometheus text).

What one client can hold is bounded (issue 13): request headers must arrive within
`header_timeout` (`ingest.http_guard`), bodies within `body_timeout` and `max_body_bytes`; at most
`max_decodes` batches are decoded at once (decoding takes ~25× the body in memory), so the
server's memory is bounded whatever the number of clients; a batch may not fan out into more than
`MAX_SEGMENTS_PER_REQUEST` segments; a run claim body is at most 64 KiB. Every endpoint but
`/healthz` needs the token, and `serve` refuses to listen beyond loopback without one unless told
`allow_anonymous=True`.

Nothing is buffered in the server, so a graceful shutdown (SIGINT/SIGTERM: uvicorn stops
accepting, then waits for requests in flight) loses nothing acknowledged.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from eventlog.core import run_claims
from eventlog.core.event import Event
from eventlog.core.names import validate_experiment, validate_job_id, validate_writer
from eventlog.core.segment import publish
from eventlog.core.store import Store, open_store
from eventlog.errors import BodyTooLargeError, EventLogError, InvalidNameError
from ingest.collector_stats import CollectorStats
from ingest.http_guard import DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS, ServerThread, raise_fd_limit, server_config
from ingest.wire import BatchError, decode_batch, segments_from_columns

__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_PORT", "CollectorStats", "CollectorThread", "check_bind", "create_app", "serve"]

DEFAULT_PORT = 8750
#: 8 MiB: ~150,000 events of a typical metric batch (the remote client sends at most 50,000).
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
#: Batches decoded at once: each takes ~25x its body in memory while it is validated.
DEFAULT_MAX_DECODES = 2
#: Segments one request may create: a flush makes one per (experiment, day); more is an attack.
MAX_SEGMENTS_PER_REQUEST = 256
_MAX_CLAIM_BYTES = 64 * 1024
_LOOPBACK = ("127.0.0.1", "::1", "localhost")
#: Seconds a client may take to send one request body (slow clients get a 408).
DEFAULT_BODY_TIMEOUT = 30.0
_log = logging.getLogger("eventlog.collector")
_DT_COLUMN = Event.__struct_fields__.index("dt")
_CLAIM_SHAPE = 'send a JSON object {"experiment": "<name>", "writer": "<writer id>", "job": "<job id or null>"}'


def _error(status: int, message: str, stats: CollectorStats, reason: str, **headers: str) -> JSONResponse:
    stats.reject(reason)
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing to buffer more than `limit` bytes (even without Content-Length)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    store: Store,
    *,
    token: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    max_decodes: int = DEFAULT_MAX_DECODES,
) -> Starlette:
    """The collector's ASGI app over an open store.

    Args:
        store: where batches are written.
        token: the bearer token clients must send (`Authorization: Bearer <token>`); None
            disables authentication (only sensible on loopback).
        max_body_bytes: larger request bodies get a 413.
        body_timeout: seconds a client may take to send a body before it gets a 408.
        max_decodes: batches decoded and written at once (the others wait their turn).

    Returns:
        A Starlette app; `app.state.stats` holds its `CollectorStats`.
    """
    stats = CollectorStats()
    decoding = asyncio.Semaphore(max_decodes)
    expected = f"Bearer {token}".encode() if token is not None else None

    def authorized(request: Request) -> bool:
        if expected is None:
            return True
        given = request.headers.get("authorization", "").encode()
        return hmac.compare_digest(given, expected)

    def guarded(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """`handler` behind the bearer token check (401 without the right token)."""

        async def checked(request: Request) -> Response:
            if authorized(request):
                return await handler(request)
            return _error(
                401,
                "missing or wrong token: send 'Authorization: Bearer <token>' with the collector's --token",
                stats,
                "unauthorized",
                **{"WWW-Authenticate": "Bearer"},
            )

        return checked

    async def run_number(what: str, call: Callable[..., int | None], *args: Any, **kwargs: Any) -> Response:
        """`{"run": call(store, ...)}`, run in the thread pool; a store failure is a 503 (the client retries)."""
        try:
            run = await run_in_threadpool(call, store, *args, **kwargs)
        except (OSError, EventLogError) as exc:
            return _error(503, f"{what} failed ({exc}); retry", stats, "store_error")
        return JSONResponse({"run": run})

    async def events(request: Request) -> Response:
        received = time.perf_counter()
        try:
            body = await asyncio.wait_for(_read_body(request, max_body_bytes), timeout=body_timeout)
        except BodyTooLargeError:
            return _error(413, f"body larger than {max_body_bytes} bytes: send smaller batches", stats, "too_large")
        except TimeoutError:
            return _error(408, f"the body did not arrive within {body_timeout} s: resend it", stats, "timeout")
        except ClientDisconnect:
            stats.reject("disconnected")
            return Response(status_code=400)
        try:
            async with decoding:
                count, created, newest = await run_in_threadpool(_write_batch, store, body)
        except BatchError as exc:
            return _error(400, str(exc), stats, "invalid")
        except Exception as exc:  # the store failed: nothing was acknowledged, the client retries
            _log.warning("eventlog collector: writing a batch failed: %s: %s", type(exc).__name__, exc)
            return _error(503, f"the store failed ({type(exc).__name__}: {exc}); retry the batch", stats, "store_error")
        lag = time.perf_counter() - received
        stats.accept(count, len(body), created, lag, newest)
        return JSONResponse({"events": count, "created": created})

    async def claim(request: Request) -> Response:
        try:
            body = await asyncio.wait_for(_read_body(request, _MAX_CLAIM_BYTES), timeout=body_timeout)
        except BodyTooLargeError:
            return _error(413, f"a run claim is at most {_MAX_CLAIM_BYTES} bytes; {_CLAIM_SHAPE}", stats, "too_large")
        except TimeoutError:
            return _error(408, f"the body did not arrive within {body_timeout} s: resend it", stats, "timeout")
        except ClientDisconnect:
            stats.reject("disconnected")
            return Response(status_code=400)
        try:
            payload = json.loads(body)
            experiment = validate_experiment(payload["experiment"])
            writer = validate_writer(payload["writer"])
            job = payload.get("job")
            job = None if job is None else validate_job_id(job)
        except KeyError as exc:
            return _error(400, f"bad run claim: field {exc} is missing; {_CLAIM_SHAPE}", stats, "invalid")
        except (ValueError, TypeError, InvalidNameError, RecursionError) as exc:
            reason = "it nests too deeply" if isinstance(exc, RecursionError) else str(exc)
            return _error(400, f"bad run claim ({reason}); {_CLAIM_SHAPE}", stats, "invalid")
        return await run_number("claiming a run", run_claims.claim_run, experiment, writer=writer, job=job)

    async def latest(request: Request) -> Response:
        try:
            experiment = validate_experiment(request.query_params.get("experiment", ""))
        except (ValueError, InvalidNameError) as exc:
            return _error(400, str(exc), stats, "invalid")
        return await run_number("reading run claims", run_claims.latest_run, experiment)

    async def info(request: Request) -> Response:
        return JSONResponse({"store": store.url(""), "max_body_bytes": max_body_bytes})

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def metrics(request: Request) -> Response:
        return PlainTextResponse(stats.prometheus(), media_type="text/plain; version=0.0.4")

    app = Starlette(
        routes=[
            Route("/v1/events", guarded(events), methods=["POST"]),
            Route("/v1/runs/claim", guarded(claim), methods=["POST"]),
            Route("/v1/runs/latest", guarded(latest), methods=["GET"]),
            Route("/v1/info", guarded(info), methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", guarded(metrics), methods=["GET"]),
        ]
    )
    app.state.stats = stats
    app.state.store = store
    return app


def _write_batch(store: Store, body: bytes) -> tuple[int, int, int]:
    """Validate a batch and publish its segments; returns (events, segments created, newest dt)."""
    columns = decode_batch(body)
    segments = segments_from_columns(columns)
    if len(segments) > MAX_SEGMENTS_PER_REQUEST:
        raise BatchError(
            f"this batch would create {len(segments)} segments (one per experiment, day and writer); at most "
            f"{MAX_SEGMENTS_PER_REQUEST} per request: send each writer's events of a few experiments at a time"
        )
    created = sum(publish(store, segment) for segment in segments)
    return len(columns[0]), created, max(columns[_DT_COLUMN])


def serve(
    store_uri: str,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    token: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    storage_options: dict[str, Any] | None = None,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    log_level: str = "warning",
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    allow_anonymous: bool = False,
) -> None:
    """Run the collector until interrupted (blocking); Ctrl-C/SIGTERM shut it down gracefully.

    Args:
        store_uri: the store the collector writes to (any fsspec URI).
        host: interface to listen on (default loopback only).
        port: TCP port (0 picks a free one).
        token: bearer token clients must send; None disables auth.
        max_body_bytes: largest accepted request body (413 above).
        storage_options: passed to fsspec when opening the store.
        body_timeout: seconds a client may take to send a body (408 after).
        log_level: uvicorn's log level.
        header_timeout: seconds a client may take to send a request's headers.
        max_connections: connections served at once (503 past it).
        allow_anonymous: listen beyond loopback without a token (anyone who reaches the port can
            write events).

    Raises:
        StoreUnavailableError: the store cannot be opened.
        ValueError: `host` is not a loopback address, no token is given and `allow_anonymous` is False.
    """
    import uvicorn

    check_bind(host, token, allow_anonymous=allow_anonymous)
    store = open_store(store_uri, storage_options)
    app = create_app(store, token=token, max_body_bytes=max_body_bytes, body_timeout=body_timeout)
    raise_fd_limit()
    config = server_config(
        app, host=host, port=port, header_timeout=header_timeout, max_connections=max_connections,
        log_level=log_level, timeout_graceful_shutdown=30,
    )  # fmt: skip
    uvicorn.Server(config).run()


def check_bind(host: str, token: str | None, *, allow_anonymous: bool = False) -> None:
    """Refuse to serve beyond loopback without a token (anyone reaching the port could write).

    Raises:
        ValueError: `host` is not loopback, `token` is None and `allow_anonymous` is False.
    """
    if token is None and host not in _LOOPBACK and not allow_anonymous:
        raise ValueError(
            f"refusing to listen on {host} without a token: anyone who reaches it could write events. "
            "Pass --token (or $EVENTLOG_TOKEN), listen on 127.0.0.1, or pass --allow-anonymous if the network is yours"
        )


class CollectorThread(ServerThread):
    """A collector running in a background thread of this process (tests, notebooks, benchmarks).

    Use it as a context manager; `url` is its base URL once started.

    Args:
        store_uri: the store the collector writes to.
        host: interface to listen on.
        port: TCP port; 0 (default) picks a free one.
        token: bearer token, or None.
        max_body_bytes: largest accepted request body.
        body_timeout: seconds a client may take to send a body.
        storage_options: passed to fsspec when opening the store.
        header_timeout: seconds a client may take to send a request's headers.
        max_connections: connections served at once (503 past it).

    Example:
        >>> with CollectorThread("./.eventlog", token="t") as collector:  # doctest: +SKIP
        ...     log = eventlog.open(collector.url, token="t")
    """

    def __init__(
        self,
        store_uri: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
        storage_options: dict[str, Any] | None = None,
        header_timeout: float = DEFAULT_HEADER_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:

        self.store = open_store(store_uri, storage_options)
        self.app = create_app(self.store, token=token, max_body_bytes=max_body_bytes, body_timeout=body_timeout)
        config = server_config(
            self.app, host=host, port=port, header_timeout=header_timeout, max_connections=max_connections,
            log_level="error", lifespan="off",
        )  # fmt: skip
        super().__init__(config, name="eventlog-collector", what="the collector")

    @property
    def stats(self) -> CollectorStats:
        """The collector's counters."""
        stats: CollectorStats = self.app.state.stats
        return stats

