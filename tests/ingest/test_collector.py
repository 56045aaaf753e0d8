"""The HTTP collector over real loopback: durable batches, auth, limits, and bad input of every kind."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import query
from eventlog.core.event import Event
from eventlog.core.store import open_store
from ingest.collector import CollectorThread
from ingest.wire import encode_batch, encode_columns

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/msgpack"}


def make_events(n: int, *, writer: str = "w-1", first_seq: int = 0, experiment: str = "exp", run: int = 1) -> list[Event]:
    """n metric events of one writer with consecutive seqs."""
    now = time.time_ns()
    return [
        Event(experiment, run, i, "metric", "loss", float(i), None, now + i, "node", "user", None, writer, first_seq + i)
        for i in range(n)
    ]


@pytest.fixture
def collector(local_uri: str) -> Iterator[CollectorThread]:
    with CollectorThread(local_uri, token=TOKEN, max_body_bytes=200_000, body_timeout=1.0) as running:
        yield running


@pytest.fixture
def client(collector: CollectorThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=collector.url, timeout=10) as http:
        yield http


def stored_count(collector: CollectorThread) -> int:
    return query.data(collector.store, experiment="*", run="*").height


def test_batch_is_durable_when_acknowledged(collector: CollectorThread, client: httpx.Client) -> None:
    response = client.post("/v1/events", content=encode_batch(make_events(100)), headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json() == {"events": 100, "created": 1}
    # Acknowledged means in the store: a fresh store handle reads all 100 back.
    frame = query.data(open_store(collector.store.uri), experiment="exp", run="*")
    assert sorted(frame["value"].to_list()) == [float(i) for i in range(100)]


def test_retried_batch_never_duplicates(collector: CollectorThread, client: httpx.Client) -> None:
    body = encode_batch(make_events(50))
    first = client.post("/v1/events", content=body, headers=AUTH)
    again = client.post("/v1/events", content=body, headers=AUTH)
    assert first.json()["created"] == 1 and again.json()["created"] == 0
    assert again.status_code == 200
    assert stored_count(collector) == 50


def test_batch_spanning_writers_and_experiments(collector: CollectorThread, client: httpx.Client) -> None:
    events = (
        make_events(10, writer="a") + make_events(5, writer="b", experiment="other") + make_events(3, writer="a", first_seq=10)
    )
    response = client.post("/v1/events", content=encode_batch(events), headers=AUTH)
    assert response.json() == {"events": 18, "created": 2}
    names = sorted(f.path for f in collector.store.find("seg"))
    assert names[0].endswith(
        "experiment=exp/date=" + names[0].split("date=")[1].split("/")[0] + "/a/00000000000000000000.runs-1-1.parquet"
    )
    assert stored_count(collector) == 18


@pytest.mark.parametrize(
    ("headers", "reason"),
    [({}, "missing token"), ({"Authorization": "Bearer wrong"}, "wrong token"), ({"Authorization": TOKEN}, "no Bearer")],
)
def test_token_is_required(collector: CollectorThread, client: httpx.Client, headers: dict[str, str], reason: str) -> None:
    response = client.post("/v1/events", content=encode_batch(make_events(3)), headers=headers)
    assert response.status_code == 401, reason
    assert "token" in response.json()["error"]
    assert response.headers["www-authenticate"] == "Bearer"
    assert client.post("/v1/runs/claim", json={"experiment": "e", "writer": "w"}, headers=headers).status_code == 401
    assert stored_count(collector) == 0


def test_oversized_body_gets_413(collector: CollectorThread, client: httpx.Client) -> None:
    response = client.post("/v1/events", content=encode_batch(make_events(20_000)), headers=AUTH)
    assert response.status_code == 413
    assert "smaller batches" in response.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while streaming
        for _ in range(30):
            yield b"\x00" * 10_000

    streamed = client.post("/v1/events", content=chunks(), headers=AUTH)
    assert streamed.status_code == 413
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", "empty body"),
        (encode_batch(make_events(5))[:-7], "not valid msgpack"),  # truncated
        (msgspec.msgpack.encode({"a": 1}), "invalid batch"),
        (msgspec.msgpack.encode([]), "no events"),
    ],
)
def test_malformed_bodies_get_400(collector: CollectorThread, client: httpx.Client, body: bytes, expected: str) -> None:
    response = client.post("/v1/events", content=body, headers=AUTH)
    assert response.status_code == 400
    assert expected in response.json()["error"]


def test_wrong_type_names_event_and_field(collector: CollectorThread, client: httpx.Client) -> None:
    rows = [list(msgspec.structs.astuple(e)) for e in make_events(5)]
    rows[3][1] = "one"  # run must be an int
    response = client.post("/v1/events", content=msgspec.msgpack.encode(rows), headers=AUTH)
    assert response.status_code == 400
    error = response.json()["error"]
    assert "event 3" in error and "'run'" in error
    assert stored_count(collector) == 0  # all or nothing: the 4 good events were not written either


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (4, "k" * 5000, "at most 1024"),
        (0, "a/b", "path separator"),
        (0, "", "empty"),
        (11, "../../etc", "writer id"),
        (3, "", "event kind"),
    ],
)
def test_bad_names_are_rejected(collector: CollectorThread, client: httpx.Client, field: int, value: str, expected: str) -> None:
    rows = [list(msgspec.structs.astuple(e)) for e in make_events(4)]
    rows[2][field] = value
    response = client.post("/v1/events", content=msgspec.msgpack.encode(rows), headers=AUTH)
    assert response.status_code == 400
    error = response.json()["error"]
    assert "event 2" in error and Event.__struct_fields__[field] in error and expected in error


@pytest.mark.parametrize(("field", "value"), [(12, -1), (7, 2**64 - 1), (1, 2**63)])
def test_out_of_range_integers_are_rejected(collector: CollectorThread, client: httpx.Client, field: int, value: int) -> None:
    rows = [list(msgspec.structs.astuple(e)) for e in make_events(3)]
    rows[1][field] = value
    response = client.post("/v1/events", content=msgspec.msgpack.encode(rows), headers=AUTH)
    assert response.status_code == 400
    assert f"event 1, field {Event.__struct_fields__[field]!r}" in response.json()["error"]
    assert "out of range" in response.json()["error"]


def columns_of(events: list[Event]) -> dict[str, list[object]]:
    return {name: [getattr(e, name) for e in events] for name in Event.__struct_fields__}


def test_column_shaped_batch(collector: CollectorThread, client: httpx.Client) -> None:
    events = make_events(30)
    events[4] = msgspec.structs.replace(events[4], extra={"tag": "v1"})
    response = client.post("/v1/events", content=encode_columns(columns_of(events)), headers=AUTH)
    assert response.json() == {"events": 30, "created": 1}
    columns = columns_of(make_events(5, writer="w-2"))
    del columns["extra"]  # optional
    assert client.post("/v1/events", content=encode_columns(columns), headers=AUTH).json() == {"events": 5, "created": 1}
    frame = query.data(collector.store, experiment="exp", run="*")
    assert frame.height == 35 and frame["tag"].drop_nulls().to_list() == ["v1"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda c: c["run"].__setitem__(2, "two"), "event 2, field 'run'"),
        (lambda c: c["seq"].pop(), "column 'seq' has 3 values"),
        (lambda c: c.__setitem__("colour", [1, 2, 3, 4]), "unknown field `colour`"),
        (lambda c: c.pop("dt"), "missing required field `dt`"),
        (lambda c: c.__setitem__("key", "loss"), "field 'key'"),
        (lambda c: c["key"].__setitem__(1, "x\n"), "event 1, field 'key'"),
    ],
)
def test_bad_column_batches(collector: CollectorThread, client: httpx.Client, change: object, expected: str) -> None:
    columns = columns_of(make_events(4))
    change(columns)  # type: ignore[operator]
    response = client.post("/v1/events", content=encode_columns(columns), headers=AUTH)
    assert response.status_code == 400
    assert expected in response.json()["error"]
    assert stored_count(collector) == 0


def test_slow_client_gets_408_and_server_keeps_serving(collector: CollectorThread, client: httpx.Client) -> None:
    host, port = collector.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as slow:
        slow.sendall(
            f"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 1000\r\n\r\n".encode()
            + b"\x91"
        )
        # While the slow client dawdles, others are served.
        assert client.post("/v1/events", content=encode_batch(make_events(7)), headers=AUTH).status_code == 200
        answer = slow.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 408")
    assert stored_count(collector) == 7


_msgpack_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.text(max_size=20) | st.binary(max_size=20),
    lambda inner: st.lists(inner, max_size=15) | st.dictionaries(st.text(max_size=5), inner, max_size=5),
    max_leaves=40,
)


@pytest.mark.slow
def test_garbage_never_breaks_the_server(collector: CollectorThread, client: httpx.Client) -> None:
    good = 0

    def check(body: bytes) -> None:
        nonlocal good
        response = client.post("/v1/events", content=body, headers=AUTH)
        assert response.status_code in (200, 400), response.text
        if response.status_code == 400:
            assert response.json()["error"]
        # A valid batch after every garbage body must land: nothing valid is ever lost.
        valid = client.post("/v1/events", content=encode_batch(make_events(2, writer="good", first_seq=good)), headers=AUTH)
        assert valid.status_code == 200
        good += 2

    @settings(max_examples=50)
    @given(body=st.binary(max_size=300))
    def random_bytes(body: bytes) -> None:
        check(body)

    @settings(max_examples=50)
    @given(value=_msgpack_values)
    def random_msgpack(value: object) -> None:
        check(msgspec.msgpack.encode(value))

    @settings(max_examples=50)
    @given(value=st.dictionaries(st.sampled_from(Event.__struct_fields__), st.lists(_msgpack_values, max_size=4), max_size=14))
    def random_columns(value: object) -> None:
        check(msgspec.msgpack.encode(value))

    random_bytes()
    random_msgpack()
    random_columns()
    frame = query.data(collector.store, experiment="exp", run="*")
    assert frame.height >= good >= 300
    assert client.get("/healthz").status_code == 200


def test_metrics_and_health(collector: CollectorThread, client: httpx.Client) -> None:
    client.post("/v1/events", content=encode_batch(make_events(10)), headers=AUTH)
    client.post("/v1/events", content=b"junk", headers=AUTH)
    client.post("/v1/events", content=b"junk", headers={})
    assert client.get("/healthz").text == "ok\n"  # the one endpoint without a token
    assert client.get("/metrics").status_code == 401
    text = client.get("/metrics", headers=AUTH).text
    assert "eventlog_collector_events_total 10" in text
    assert "eventlog_collector_batches_total 1" in text
    assert 'eventlog_collector_rejected_total{reason="invalid"} 1' in text
    assert 'eventlog_collector_rejected_total{reason="unauthorized"} 2' in text
    assert "eventlog_collector_flush_lag_seconds" in text
    assert "eventlog_collector_bytes_total" in text


def test_run_claims_through_the_collector(collector: CollectorThread, client: httpx.Client) -> None:
    assert client.get("/v1/runs/latest", params={"experiment": "e"}, headers=AUTH).json() == {"run": None}
    runs = [client.post("/v1/runs/claim", json={"experiment": "e", "writer": "w"}, headers=AUTH).json()["run"] for _ in range(3)]
    assert runs == [1, 2, 3]
    job = [
        client.post("/v1/runs/claim", json={"experiment": "e", "writer": f"r{i}", "job": "J"}, headers=AUTH).json()["run"]
        for i in range(2)
    ]
    assert job == [4, 4]
    assert client.get("/v1/runs/latest", params={"experiment": "e"}, headers=AUTH).json() == {"run": 4}
    bad = client.post("/v1/runs/claim", json={"experiment": "a/b", "writer": "w"}, headers=AUTH)
    assert bad.status_code == 400 and "path separator" in bad.json()["error"]
    missing = client.post("/v1/runs/claim", json={"experiment": "e"}, headers=AUTH)
    assert missing.status_code == 400 and "field 'writer' is missing" in missing.json()["error"]


@pytest.mark.s3
def test_collector_writes_to_s3(s3_uri: str) -> None:
    with CollectorThread(s3_uri) as running, httpx.Client(base_url=running.url) as http:
        body = encode_batch(make_events(20))
        assert http.post("/v1/events", content=body).json()["created"] == 1
        assert http.post("/v1/events", content=body).json()["created"] == 0
        assert query.data(open_store(s3_uri), experiment="exp", run="*").height == 20


def test_serve_in_a_subprocess_shuts_down_gracefully(local_uri: str, free_port: int) -> None:
    import signal
    import subprocess
    import sys

    code = f"import eventlog; from ingest.collector import serve; serve({local_uri!r}, port={free_port}, token={TOKEN!r})"
    server = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{free_port}", timeout=10) as http:
            for _ in range(200):  # wait for the port (the process has no readiness signal but the socket)
                try:
                    http.get("/healthz")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            assert http.post("/v1/events", content=encode_batch(make_events(25)), headers=AUTH).status_code == 200
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=30)
        # uvicorn shuts down (finishing requests in flight), then re-raises the signal it caught.
        assert server.returncode in (0, -signal.SIGTERM), stderr
        assert "Traceback" not in stderr
    finally:
        if server.poll() is None:
            server.kill()
    assert query.data(open_store(local_uri), experiment="exp", run="*").height == 25


def test_invalid_utf8_in_a_string_is_a_400_not_a_store_failure() -> None:
    """Regression: msgspec raises UnicodeDecodeError (not DecodeError) for bad UTF-8; it was answered 503."""
    from ingest.wire import BatchError, decode_batch

    with pytest.raises(BatchError, match="not valid msgpack"):
        decode_batch(b"\x81\xa9\x00\x00\x00\x00\x00\x00\x00\x00\x80")
