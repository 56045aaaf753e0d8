"""The remote logger's client: `eventlog.open("http://host:port", token=...)` writes through a collector.

`Log` uses a `RemoteClient` instead of a store for writing: the flusher hands encoded segments to
`RemoteClient.sink`, which sends their events as one column-shaped msgpack batch (`ingest.wire`) to
`POST /v1/events` and returns only once the collector answered 200 (the batch is durable). A
failed attempt is retried here with backoff and then raised, so the flusher keeps the segments and
retries later; because the collector names segments by (writer, first seq) and creates them only if
absent, a retried batch never duplicates events. Run numbers are claimed through the collector.

Reading: `store_view()` asks the collector for its store URI (`GET /v1/info`) and opens it when
this process can reach it (same machine, or S3 credentials); otherwise it returns an
`UnreachableStore`, whose reads raise `StoreUnavailableError` saying to query the store directly.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import threading
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from eventlog import env
from eventlog.core.segment import Segment
from eventlog.core.store import FileInfo, Store, open_store
from eventlog.errors import RemoteError, RemoteRejectedError, StoreUnavailableError
from ingest.quarantine import Quarantine
from ingest.spool import spool_dir
from ingest.wire import columns_from_table, encode_columns

__all__ = ["RemoteClient", "RemoteError", "RemoteRejectedError", "UnreachableStore"]

_log = logging.getLogger("eventlog.remote")
_RETRY_STATUS = {408, 429, 500, 502, 503, 504}
#: Events per request; whole segments are never split (their names must not change on retry).
_MAX_BATCH_EVENTS = 50_000  # ~3 MiB: well under the collector's 8 MiB body limit


class UnreachableStore(Store):
    """A stand-in for a collector's store that this process cannot open: every read raises.

    Args:
        uri: the collector URL (shown in messages and `repr`).
        store_uri: the store URI the collector reported, or None.
        reason: why it cannot be opened.
    """

    def __init__(self, uri: str, store_uri: str | None, reason: str) -> None:
        import fsspec

        super().__init__(uri, fsspec.filesystem("memory"), "/eventlog-unreachable")
        self.store_uri = store_uri
        self.reason = reason

    def _fail(self) -> StoreUnavailableError:
        target = f"eventlog.open({self.store_uri!r})" if self.store_uri else "eventlog.open(<the collector's --store>)"
        return StoreUnavailableError(
            f"this log writes through the collector {self.uri} and cannot read its store ({self.reason}); "
            f"query the store directly with {target} or `eventlog --store ...`"
        )

    def read(self, path: str) -> bytes:
        """Raises StoreUnavailableError."""
        raise self._fail()

    def exists(self, path: str) -> bool:
        """Raises StoreUnavailableError."""
        raise self._fail()

    def find(self, prefix: str, *, temporary: bool = False) -> list[FileInfo]:
        """Raises StoreUnavailableError."""
        raise self._fail()

    def list_dir(self, prefix: str) -> list[str]:
        """Raises StoreUnavailableError."""
        raise self._fail()

    def create(self, path: str, data: bytes, *, sync_data: bool = True, sync_name: bool = True) -> None:
        """Raises StoreUnavailableError (writes go through the collector)."""
        raise self._fail()

    def delete(self, paths: list[str]) -> None:
        """Raises StoreUnavailableError."""
        raise self._fail()


class RemoteClient:
    """A connection to a collector (`eventlog serve`), used by `Log` for an `http(s)://` URI.

    Args:
        uri: the collector's base URL, e.g. `http://127.0.0.1:8750`.
        token: its bearer token ($EVENTLOG_TOKEN when None).
        timeout: seconds per HTTP request.
        retries: attempts per batch before the error goes to the flusher (which retries later).
        backoff: seconds before the first retry (doubled each time).

    Raises:
        ValueError: the URI is not http(s).
    """

    def __init__(
        self, uri: str, *, token: str | None = None, timeout: float = 60.0, retries: int = 4, backoff: float = 0.1
    ) -> None:
        parts = urlsplit(uri)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"collector URI must look like http://host:port, got {uri!r}")
        self.uri = uri.rstrip("/")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._base = parts.path.rstrip("/")
        token = token if token is not None else os.environ.get(env.EVENTLOG_TOKEN)
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = timeout
        self._retries = max(1, retries)
        self._backoff = backoff
        self._lock = threading.Lock()
        self._conn: http.client.HTTPConnection | None = None
        self.batches_sent = 0
        self.events_sent = 0
        self.quarantine = Quarantine(os.path.join(spool_dir(self.uri), "quarantine"), f"remote-{os.getpid()}-{id(self):x}")

    def __repr__(self) -> str:
        return f"RemoteClient({self.uri!r})"

    # -- HTTP ---------------------------------------------------------------------------------------
    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self._timeout)
        return self._conn

    def _request_once(self, method: str, path: str, body: bytes | None, content_type: str) -> tuple[int, bytes]:
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = content_type
        with self._lock:
            for fresh in (self._conn is None, True):
                conn = self._connection()
                try:
                    conn.request(method, self._base + path, body=body, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                    break
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    conn.close()
                    self._conn = None
                    if fresh:
                        raise
                    # The server closed an idle keep-alive connection: try once more on a new one.
                except Exception:
                    conn.close()
                    self._conn = None
                    raise
            if response.getheader("connection", "").lower() == "close":
                conn.close()
                self._conn = None
        return response.status, data

    def request(self, method: str, path: str, body: bytes | None = None, *, content_type: str = "application/json") -> Any:
        """Send a request with retries on connection errors and 5xx/408/429; return the decoded JSON answer.

        Raises:
            RemoteRejectedError: the collector answered 4xx (not retried).
            RemoteError: every attempt failed.
        """
        delay = self._backoff
        last = ""
        for attempt in range(self._retries):
            if attempt:
                time.sleep(delay)  # backoff between attempts (not a test wait)
                delay *= 4
            try:
                status, data = self._request_once(method, path, body, content_type)
            except (OSError, http.client.HTTPException) as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            if status == 200:
                return json.loads(data) if data else None
            message = _message(data)
            if status in _RETRY_STATUS:
                last = f"HTTP {status}: {message}"
                continue
            raise RemoteRejectedError(f"the collector {self.uri} refused {method} {path}: HTTP {status}: {message}", status)
        raise RemoteError(f"the collector {self.uri} failed {self._retries} time(s) on {method} {path}: {last}")

    # -- what Log uses ------------------------------------------------------------------------------
    def sink(self, segments: list[Segment]) -> None:
        """Send segments' events to the collector; returns once it has made them durable.

        Whole segments go in one batch (several batches for very large flushes), so a retry
        resends exactly the same events and the collector's create-if-absent deduplicates.

        Raises:
            RemoteError: the collector could not be reached (the flusher retries later).
            RemoteRejectedError: the collector refused the batch.
        """
        batch: dict[str, list[Any]] = {}
        count = 0
        for segment in segments:
            columns = _columns_of(segment)
            rows = len(columns["seq"])
            if "extra" not in columns and "extra" in batch:
                columns["extra"] = [{}] * rows
            elif "extra" in columns and "extra" not in batch and count:
                batch["extra"] = [{}] * count
            for name, values in columns.items():
                batch.setdefault(name, []).extend(values)
            count += rows
            if count >= _MAX_BATCH_EVENTS:
                self._send_or_set_aside(batch, count)
                batch, count = {}, 0
        if count:
            self._send_or_set_aside(batch, count)

    def publish(self, segment: Segment) -> bool:
        """Send one segment's events; True if the collector created it, False if it had it already.

        Raises:
            RemoteError: the collector could not be reached.
            RemoteRejectedError: the collector refused the batch.
        """
        return self._send_or_set_aside(_columns_of(segment), segment.count) > 0

    def _send_or_set_aside(self, batch: dict[str, list[Any]], count: int) -> int:
        """Send a batch; if the collector refuses it (400/413), split it until each refused event
        stands alone, quarantine those and send the rest. Returns the segments created.

        The split is deterministic (halves by position), so a batch resent after a crash splits the
        same way and the collector's create-if-absent still deduplicates.

        Raises:
            RemoteError: the collector could not be reached.
            RemoteRejectedError: it refused for another reason (such as the token).
            OSError: the quarantine file could not be written.
        """
        try:
            return self._send(batch, count)
        except RemoteRejectedError as exc:
            if exc.status not in (400, 413):
                raise
            if count == 1:
                self.quarantine.add(batch, f"the collector {self.uri} refused it: {exc}")
                _log.warning("eventlog: 1 event set aside in %s: %s", self.quarantine.path, exc)
                return 0
        half = count // 2
        return sum(self._send_or_set_aside(part, len(part["seq"])) for part in (_rows(batch, 0, half), _rows(batch, half, count)))

    def _send(self, batch: dict[str, list[Any]], count: int) -> int:
        answer = self.request("POST", "/v1/events", encode_columns(batch), content_type="application/msgpack")
        self.batches_sent += 1
        self.events_sent += count
        return int((answer or {}).get("created", 0))

    def claim_run(self, experiment: str, *, writer: str, job: str | None = None) -> int:
        """Claim the next run number of `experiment` (or join job `job`'s run) through the collector."""
        body = json.dumps({"experiment": experiment, "writer": writer, "job": job}).encode()
        return int(self.request("POST", "/v1/runs/claim", body)["run"])

    def latest_run(self, experiment: str) -> int | None:
        """The highest run number of `experiment` known to the collector's store, or None."""
        run = self.request("GET", "/v1/runs/latest?" + urlencode({"experiment": experiment}))["run"]
        return None if run is None else int(run)

    def info(self) -> dict[str, Any]:
        """The collector's `GET /v1/info` answer (its store URI and body limit)."""
        answer: dict[str, Any] = self.request("GET", "/v1/info")
        return answer

    def store_view(self, storage_options: dict[str, Any] | None = None) -> Store:
        """A store to read what this log wrote: the collector's store if reachable from here.

        Returns:
            The opened store, or an `UnreachableStore` whose reads raise a clear error.

        Raises:
            RemoteRejectedError: the collector refused the token.
            RemoteError: the collector cannot be reached.
        """
        store_uri = str(self.info()["store"])
        if "://" not in store_uri or store_uri.startswith("file://"):
            path = store_uri.split("://", 1)[-1]
            if not os.path.isdir(path):
                return UnreachableStore(self.uri, store_uri, f"the directory {path} is on the collector's machine")
        try:
            return open_store(store_uri, storage_options)
        except Exception as exc:  # no credentials, other network, memory:// of another process...
            return UnreachableStore(self.uri, store_uri, f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        """Close the HTTP connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _rows(batch: dict[str, list[Any]], start: int, stop: int) -> dict[str, list[Any]]:
    return {name: values[start:stop] for name, values in batch.items()}


def _columns_of(segment: Segment) -> dict[str, list[Any]]:
    """A segment's events as a column-shaped batch (read back from its Parquet bytes)."""
    import pyarrow.parquet as pq

    return columns_from_table(pq.read_table(_buffer(segment.data)), segment.experiment)


def _buffer(data: bytes) -> Any:
    import pyarrow as pa

    return pa.BufferReader(data)


def _message(data: bytes) -> str:
    try:
        return str(json.loads(data)["error"])
    except (ValueError, KeyError, TypeError):
        return data[:500].decode("utf-8", "replace")
