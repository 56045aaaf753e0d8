"""Issue 13: what one client can hold of the collector is bounded, and the server keeps serving.

Each test once found a way to stop the service or reach outside the store: half-open connections
up to the fd limit, a 57 MiB body decoded into 1.5 GB, a run claim of any size or depth, one
request fanned out into 10,000 fsynced files, a writer id of `..`, `/metrics` without a token and
an open bind without one.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import psutil
import pytest

from eventlog.core.event import Event
from ingest.collector import DEFAULT_MAX_BODY_BYTES, MAX_SEGMENTS_PER_REQUEST, CollectorThread, check_bind
from ingest.wire import encode_batch, encode_columns

from .test_collector import AUTH, TOKEN, make_events


@pytest.fixture
def collector(local_uri: str) -> Iterator[CollectorThread]:
    with CollectorThread(local_uri, token=TOKEN, header_timeout=0.5) as running:
        yield running


def files_in(root: str) -> set[str]:
    return {str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_file()}


def test_half_open_connections_are_closed_and_the_server_keeps_serving(collector: CollectorThread) -> None:
    host, port = collector.url.removeprefix("http://").split(":")
    sockets = []
    for _ in range(200):
        sock = socket.create_connection((host, int(port)), timeout=10)
        sock.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\n")  # headers that never end
        sockets.append(sock)
    with httpx.Client(base_url=collector.url, timeout=10) as http:
        assert http.get("/healthz").status_code == 200  # served while 200 connections hang
    closed = 0
    for sock in sockets:
        sock.settimeout(5)
        try:
            closed += sock.recv(1) == b""  # the server closed it after the header timeout
        except (ConnectionResetError, TimeoutError):
            closed += 0
        sock.close()
    assert closed == len(sockets)


def test_slow_headers_sent_a_byte_at_a_time_still_time_out(collector: CollectorThread) -> None:
    host, port = collector.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    started = time.monotonic()
    with pytest.raises((BrokenPipeError, ConnectionResetError)):
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
            sock.sendall(bytes([byte]))
            time.sleep(0.05)  # a slowloris client: one byte every 50 ms keeps data flowing
    assert time.monotonic() - started < 3
    sock.close()


def test_a_writer_id_of_dots_is_refused_and_nothing_lands_outside(collector: CollectorThread, local_uri: str) -> None:
    before = files_in(local_uri)
    with httpx.Client(base_url=collector.url, timeout=30) as http:
        answer = http.post("/v1/events", content=encode_batch(make_events(5, writer="..")), headers=AUTH)
    assert answer.status_code == 400 and "writer id" in answer.json()["error"]
    assert files_in(local_uri) == before


def test_one_request_cannot_fan_out_into_many_files(collector: CollectorThread, local_uri: str) -> None:
    events = [e for i in range(MAX_SEGMENTS_PER_REQUEST + 1) for e in make_events(1, experiment=f"x{i}", first_seq=i)]
    before = files_in(local_uri)
    with httpx.Client(base_url=collector.url, timeout=30) as http:
        answer = http.post("/v1/events", content=encode_batch(events), headers=AUTH)
        assert answer.status_code == 400 and "segments" in answer.json()["error"]
        assert http.post("/v1/events", content=encode_batch(events[:MAX_SEGMENTS_PER_REQUEST]), headers=AUTH).status_code == 200
    assert len(files_in(local_uri) - before) == MAX_SEGMENTS_PER_REQUEST


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b'{"experiment": "e", "writer": "w", "pad": "' + b"x" * 100_000 + b'"}', 413, "at most"),
        (b"[" * 30_000 + b"]" * 30_000, 400, "nests too deeply"),
        (b'{"experiment": "e", "writer": ".."}', 400, "writer id"),
        (b'{"experiment": "e", "writer": "w", "job": ".."}', 400, "job id"),
        (b'{"experiment": "*", "writer": "w"}', 400, "pattern"),
    ],
)
def test_bad_run_claims_get_a_4xx(collector: CollectorThread, body: bytes, status: int, message: str) -> None:
    with httpx.Client(base_url=collector.url, timeout=30) as http:
        answer = http.post("/v1/runs/claim", content=body, headers=AUTH)
        assert answer.status_code == status and message in answer.json()["error"]
        assert http.get("/healthz").status_code == 200


def test_an_open_bind_without_a_token_is_refused() -> None:
    with pytest.raises(ValueError, match="without a token"):
        check_bind("0.0.0.0", None)
    check_bind("0.0.0.0", "t")
    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", None, allow_anonymous=True)
    result = subprocess.run(
        [sys.executable, "-m", "eventlog.cli", "serve", "--host", "0.0.0.0", "--store", "memory://x"],
        capture_output=True, text=True, timeout=60, env={k: v for k, v in os.environ.items() if k != "EVENTLOG_TOKEN"},
    )  # fmt: skip
    assert result.returncode == 1
    assert "without a token" in result.stderr and "Traceback" not in result.stderr


def _start_serve(args: list[str], port: int) -> subprocess.Popen[str]:
    server = subprocess.Popen([sys.executable, "-m", "eventlog.cli", "serve", "--port", str(port), *args], stderr=subprocess.PIPE, text=True)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        for _ in range(400):  # the port is the only readiness signal
            try:
                http.get("/healthz")
                return server
            except httpx.TransportError:
                time.sleep(0.05)
    server.kill()
    raise AssertionError(server.communicate()[1])


def test_serve_creates_a_new_local_store(tmp_path: Path, free_port: int) -> None:
    store = tmp_path / "new" / "store"
    server = _start_serve(["--store", str(store), "--token", TOKEN], free_port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{free_port}", timeout=10) as http:
            assert http.post("/v1/events", content=encode_batch(make_events(3)), headers=AUTH).status_code == 200
    finally:
        server.kill()
        server.communicate()
    assert any(store.rglob("*.parquet"))


def _worst_case_body() -> bytes:
    """A body just under the limit whose decoded form is as large as it gets: unique short strings."""
    rows = 95_000
    columns = {name: [] for name in Event.__struct_fields__ if name != "extra"}  # type: ignore[var-annotated]
    for i in range(rows):
        values = ("e", 1, i, "metric", f"k{i}", None, f"{i}", 1_700_000_000_000_000_000 + i, "n", "u", None, "w-1", i)
        for name, value in zip(columns, values, strict=True):
            columns[name].append(value)
    body = encode_columns(columns)
    assert DEFAULT_MAX_BODY_BYTES * 0.5 < len(body) <= DEFAULT_MAX_BODY_BYTES
    return body


#: The stated bound (docs/collector.md): 16 clients sending maximum bodies at once.
RSS_BOUND_BYTES = 1024 * 2**20


@pytest.mark.slow
def test_sixteen_clients_sending_maximum_bodies_keep_the_collector_under_its_memory_bound(tmp_path: Path, free_port: int) -> None:
    server = _start_serve(["--store", str(tmp_path / "store"), "--token", TOKEN], free_port)
    process = psutil.Process(server.pid)
    body = _worst_case_body()
    garbage = msgspec.msgpack.encode([[os.urandom(40).hex()] * 14] * 20_000)[: DEFAULT_MAX_BODY_BYTES]
    peak = 0
    statuses: list[int] = []

    def client(index: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{free_port}", timeout=120) as http:
            for round_ in range(3):
                content = body if (index + round_) % 2 else garbage
                statuses.append(http.post("/v1/events", content=content, headers=AUTH).status_code)

    try:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.02)
        with httpx.Client(base_url=f"http://127.0.0.1:{free_port}", timeout=10) as http:
            assert http.get("/healthz").status_code == 200
    finally:
        server.kill()
        server.communicate()
    assert sorted(set(statuses)) == [200, 400] and len(statuses) == 48
    print(f"collector peak RSS with 16 clients x maximum bodies: {peak / 2**20:.0f} MiB")
    assert peak < RSS_BOUND_BYTES
