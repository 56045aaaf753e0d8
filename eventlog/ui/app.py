"""The dashboard's ASGI app: read-only JSON over the query layer, and the static page that uses it.

Starlette, as the collector (`ingest.collector`): the same small stack, run by uvicorn with the
same connection bounds (`ingest.http_guard`). Every route is a GET; nothing here writes to the
store. Endpoints (all JSON; errors are `{"error": message}` with 400, 401, 404 or 500):

- `GET /api/info`: the store and the limits;
- `GET /api/experiments`: `{"experiments": [names]}`;
- `GET /api/runs?experiment=*&q=&sort=&offset=&limit=&columns=`: a page of the runs table
  (`eventlog.ui.runs_view`);
- `GET /api/curves?run=exp:1&run=exp:2&key=train/*&x=step&width=1000&xmin=&xmax=&since=&mode=`:
  downsampled curves (`eventlog.ui.curves`);
- `GET /api/run?experiment=&run=`: a run's page (`eventlog.ui.run_page`);
- `GET /api/events?experiment=&run=&event=&key=&offset=&limit=`: a page of a run's events;
- `GET /api/artifact?experiment=&run=&key=&index=-1&file=`: an artifact's bytes, streamed.

With a token, every request needs it: `Authorization: Bearer <token>`, or the cookie the page
sets once it was opened with `?token=<token>` (compared in constant time). Without one, only
requests whose Host is a loopback name are served, so a web page elsewhere cannot read the
store through the browser by DNS rebinding.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eventlog.core.catalog import list_experiments
from eventlog.core.store import Store
from eventlog.errors import EventLogError, InvalidFilterError, UnsafeArtifactError
from eventlog.ui.curves import MAX_SERIES, MAX_WIDTH, RunStarts, curves, parse_run_ids
from eventlog.ui.encode import encode
from eventlog.ui.run_page import artifact_download, events_page, run_detail
from eventlog.ui.runs_view import MAX_PAGE, RunsCache, runs_page

__all__ = ["COOKIE", "LOOPBACK_NAMES", "STATIC_DIR", "create_app"]

#: Where the page, its script and the vendored uPlot live (package data).
STATIC_DIR = Path(__file__).parent / "static"
#: The cookie that carries the token after the page was opened with `?token=`.
COOKIE = "eventlog_ui_token"
#: Host names a loopback-bound dashboard without a token answers to.
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
#: Reads run at once (each may hold a run's events in memory); the others wait their turn.
MAX_READS = 4
_log = logging.getLogger("eventlog.ui")
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),  # the page's URL may hold ?token=
    (b"content-security-policy", b"default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"),
]


def _host_name(header: str) -> str:
    """The host of a Host header, without its port (`[::1]:5000` -> `::1`)."""
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class _Guard:
    """ASGI middleware: the token (header, cookie or `?token=`), the Host check, security headers."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.expected = token.encode() if token is not None else None

    def _given(self, scope: Scope) -> tuple[list[bytes], bool]:
        """The tokens a request offers, and whether one came in the query (to set the cookie)."""
        offered: list[bytes] = []
        for name, value in scope.get("headers", []):
            if name == b"authorization" and value.startswith(b"Bearer "):
                offered.append(value[7:])
            elif name == b"cookie":
                for part in value.split(b";"):
                    key, _, cookie = part.strip().partition(b"=")
                    if key == COOKIE.encode():
                        offered.append(unquote(cookie.decode("latin-1")).encode())
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        in_query = [v.encode() for v in query.get("token", [])]
        return offered + in_query, bool(in_query)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        set_cookie = False
        if self.expected is not None:
            offered, in_query = self._given(scope)
            # every offered token is compared, in constant time, so timing tells nothing
            matches = [hmac.compare_digest(given, self.expected) for given in offered]
            if not any(matches):
                await _json_error(401, "missing or wrong token: open the dashboard with ?token=<token>, or send 'Authorization: Bearer <token>'")(
                    scope, receive, send
                )
                return
            set_cookie = in_query
        else:
            host = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")
            if _host_name(host) not in LOOPBACK_NAMES:
                await _json_error(403, f"host {host!r} is not a loopback name: open the dashboard at http://127.0.0.1:<port>/")(
                    scope, receive, send
                )
                return
        cookie = None
        if set_cookie and self.expected is not None:  # quoted: a token may hold `;`, `,` or blanks
            cookie = f"{COOKIE}={quote(self.expected.decode(), safe='')}; Path=/; HttpOnly; SameSite=Strict".encode()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) + _SECURITY_HEADERS
                if cookie is not None:
                    headers.append((b"set-cookie", cookie))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def _json_error(status: int, message: str) -> Response:
    return Response(encode({"error": message}), status_code=status, media_type="application/json")


def _json(payload: Any) -> Response:
    return Response(encode(payload), media_type="application/json", headers={"cache-control": "no-store"})


def _int(request: Request, name: str, default: int | None = None) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        if default is None:
            raise ValueError(f"missing parameter {name}=<integer>")
        return default
    try:
        return int(text)
    except ValueError as exc:
        raise ValueError(f"parameter {name}={text!r} is not an integer") from exc


def _float(request: Request, name: str) -> float | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    try:
        return float(text)
    except ValueError as exc:
        raise ValueError(f"parameter {name}={text!r} is not a number") from exc


def _required(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise ValueError(f"missing parameter {name}=")
    return value


def create_app(store: Store, *, token: str | None = None, max_reads: int = MAX_READS, warm_up: bool = False) -> Starlette:
    """The dashboard's ASGI app over an open store (read only).

    Args:
        store: the store to show.
        token: every request must carry it (header, cookie or `?token=`); None: no token, and
            only loopback Host names are served.
        max_reads: reads of the store run at once.
        warm_up: fold the runs table the page opens with (the only experiment, else `*`) in a
            background thread now, so that the first page view finds it ready.

    Returns:
        A Starlette app behind the token guard; `app.state.runs` is its `RunsCache`, and
        `app.state.warming` the warm-up thread.

    Example:
        >>> app = create_app(open_store("./.eventlog"), token="s3cret")  # doctest: +SKIP
    """
    runs_cache = RunsCache(store)
    starts = RunStarts()
    warming = threading.Thread(target=_warm_up, args=(runs_cache,), name="eventlog-ui-warm-up", daemon=True)
    if warm_up:
        warming.start()
    reads = asyncio.Semaphore(max_reads)

    def api(handler: Callable[[Request], Any]) -> Callable[[Request], Awaitable[Response]]:
        """A read in the thread pool (polars blocks), with user errors as 400s and 404s."""

        async def endpoint(request: Request) -> Response:
            try:
                async with reads:
                    result = await run_in_threadpool(handler, request)
            except (InvalidFilterError, ValueError, UnsafeArtifactError) as exc:
                return _json_error(400, str(exc))
            except LookupError as exc:
                return _json_error(404, str(exc.args[0] if exc.args else exc))
            except (EventLogError, OSError) as exc:
                return _json_error(500, f"{type(exc).__name__}: {exc}")
            return result if isinstance(result, Response) else _json(result)

        return endpoint

    def info(request: Request) -> dict[str, Any]:
        return {
            "store": store.uri,
            "read_only": True,
            "max_page": MAX_PAGE,
            "max_width": MAX_WIDTH,
            "max_series": MAX_SERIES,
            "folds": runs_cache.folds,
            "files_read": runs_cache.files_read,
        }

    def experiments(request: Request) -> dict[str, Any]:
        return {"experiments": list_experiments(store, request.query_params.get("pattern") or "*")}

    def runs(request: Request) -> dict[str, Any]:
        entry = runs_cache.get(request.query_params.get("experiment") or "*")
        columns = request.query_params.get("columns")
        return runs_page(
            entry,
            filter_text=request.query_params.get("q", ""),
            sort=request.query_params.get("sort") or None,
            offset=_int(request, "offset", 0),
            limit=_int(request, "limit", 100),
            columns=[c for c in columns.split(",") if c] if columns else None,
        )

    def curve(request: Request) -> dict[str, Any]:
        low, high = _float(request, "xmin"), _float(request, "xmax")
        mode = request.query_params.get("mode") or "minmax"
        if mode not in ("minmax", "m4"):
            raise ValueError(f"mode must be minmax or m4, got {mode!r}")
        x = request.query_params.get("x") or "step"
        if x not in ("step", "time", "relative"):
            raise ValueError(f"x must be step, time or relative, got {x!r}")
        return curves(
            store,
            parse_run_ids(request.query_params.getlist("run")),
            request.query_params.get("key") or "*",
            x=x,  # type: ignore[arg-type]
            width=_int(request, "width", 1000),
            x_range=(low, high) if low is not None and high is not None else None,
            since=_float(request, "since"),
            mode=mode,  # type: ignore[arg-type]
            starts=starts,
        )

    def run(request: Request) -> dict[str, Any]:
        experiment, number = _required(request, "experiment"), _int(request, "run")
        detail = run_detail(store, experiment, number)
        if detail is None:
            raise LookupError(f"no run {number} in experiment {experiment!r}")
        return detail

    def events(request: Request) -> dict[str, Any]:
        return events_page(
            store,
            _required(request, "experiment"),
            _int(request, "run"),
            event=request.query_params.get("event") or None,
            key=request.query_params.get("key") or None,
            offset=_int(request, "offset", 0),
            limit=_int(request, "limit", 100),
        )

    def artifact(request: Request) -> Response:
        experiment, number, key = _required(request, "experiment"), _int(request, "run"), _required(request, "key")
        download = artifact_download(
            store, experiment, number, key, index=_int(request, "index", -1), file=request.query_params.get("file") or None
        )
        if download is None:
            raise LookupError(f"no artifact {key!r} (index {request.query_params.get('index', -1)}) in run {number} of {experiment!r}")
        headers = {"content-disposition": f"attachment; filename*=UTF-8''{_quote(download.filename)}"}
        if download.size is not None:
            headers["content-length"] = str(download.size)
        return StreamingResponse(download.chunks, media_type=download.media_type, headers=headers)

    def page(name: str) -> Callable[[Request], Awaitable[Response]]:
        async def serve_page(request: Request) -> Response:
            return FileResponse(STATIC_DIR / name, media_type="text/html", headers={"cache-control": "no-store"})

        return serve_page

    app = Starlette(
        routes=[
            Route("/", page("index.html"), methods=["GET"]),
            Route("/run", page("run.html"), methods=["GET"]),
            Route("/api/info", api(info), methods=["GET"]),
            Route("/api/experiments", api(experiments), methods=["GET"]),
            Route("/api/runs", api(runs), methods=["GET"]),
            Route("/api/curves", api(curve), methods=["GET"]),
            Route("/api/run", api(run), methods=["GET"]),
            Route("/api/events", api(events), methods=["GET"]),
            Route("/api/artifact", api(artifact), methods=["GET"]),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        middleware=[Middleware(_Guard, token=token)],  # outermost: every route, static files and 404s too
    )
    app.state.runs = runs_cache
    app.state.store = store
    app.state.warming = warming
    return app


def _warm_up(cache: RunsCache) -> None:
    """Fold the table the page opens with: the store's only experiment, else every experiment."""
    try:
        names = list_experiments(cache.store)
        cache.get(names[0] if len(names) == 1 else "*")
    except Exception as exc:  # the first request will meet the same error and show it
        _log.warning("eventlog ui: warming the runs table up failed: %s: %s", type(exc).__name__, exc)


def _quote(name: str) -> str:
    return quote(name, safe="")
