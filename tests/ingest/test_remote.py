"""The remote logger: `eventlog.open("http://...")` through a real collector on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import polars as pl
import pytest

import eventlog
from eventlog.core.identity import Identity
from eventlog.core.segment import Segment
from eventlog.errors import BackgroundError, StoreUnavailableError
from eventlog.log import Log
from ingest.buffer import WriteBuffer
from ingest.collector import CollectorThread
from ingest.recovery import RecoveryError, recover_remote_spools
from ingest.remote import RemoteClient, RemoteRejectedError, UnreachableStore
from ingest.spool import Spool, spool_dir

from .test_recovery import T0, make_segments, steps_in_store

TOKEN = "tok"


def train(log: Log) -> None:
    """A small training script: two runs, params, metrics by step, extras, a failed run."""
    exp = log.experiment("mnist")
    for lr in (0.1, 0.01):
        with exp:
            exp.log_params({"lr": lr, "optimizer": "sgd"})
            exp.log_extra(tag="v1")
            for step in range(50):
                exp.log_metric("loss", 1.0 / (step + 1) * lr, step=step)
                exp.log_metrics({"acc": step / 50, "f1": step / 60}, step=step)
            exp.log_event("note", "comment", {"text": "done"})
    with pytest.raises(ZeroDivisionError), exp:
        exp.log_metric("loss", 1.0, step=0)
        raise ZeroDivisionError("boom")


_VOLATILE = ["dt", "node"]


def comparable(frame: pl.DataFrame) -> pl.DataFrame:
    frame = frame.drop([c for c in _VOLATILE if c in frame.columns])
    frame = frame.with_columns(pl.when(pl.col("event") == "stop").then(None).otherwise(pl.col("value_json")).alias("value_json"))
    return frame.sort(frame.columns, nulls_last=True)


@pytest.fixture
def collector(local_uri: str) -> Iterator[CollectorThread]:
    with CollectorThread(local_uri, token=TOKEN) as running:
        yield running


def test_remote_log_equals_direct_log(collector: CollectorThread, tmp_path: object) -> None:
    direct = eventlog.open(f"{tmp_path}/direct")
    remote = eventlog.open(collector.url, token=TOKEN)
    try:
        train(direct)
        train(remote)
        d_exp, r_exp = direct.experiment("mnist"), remote.experiment("mnist")
        assert comparable(r_exp.data(run="*")).equals(comparable(d_exp.data(run="*")))
        d_runs, r_runs = d_exp.runs(), r_exp.runs()
        keep = [c for c in d_runs.columns if c not in ("start", "end", "duration_s", "node")]
        assert r_runs.select(keep).equals(d_runs.select(keep))
        assert r_runs["status"].to_list() == ["completed", "completed", "failed"]
        assert remote.experiments() == ["mnist"]
        assert r_exp.data(run=2, key="loss").height == 50
        assert remote.remote.events_sent == collector.stats.events > 300
    finally:
        direct.close()
        remote.close()


def test_sink_retry_never_duplicates(collector: CollectorThread) -> None:
    log = eventlog.open(collector.url, token=TOKEN)
    sent: list[list[object]] = []
    original = log.remote.sink

    def sink_twice(segments: list[object]) -> None:
        sent.append(segments)
        original(segments)
        original(segments)  # as if the first answer was lost and the flusher retried

    log.recorder.sink = sink_twice
    log.recorder._outbox._sink = sink_twice  # the flusher's outbox holds the sink it calls
    try:
        with log.experiment("e") as exp:
            for i in range(100):
                exp.log_metric("m", i, step=i)
        assert sent
        assert exp.data(key="m").height == 100
        assert collector.stats.batches >= 2 * len(sent)
    finally:
        log.close()


def test_collector_down_then_back_loses_nothing(tmp_path: object, free_port: int) -> None:
    store_uri = f"{tmp_path}/store"
    with CollectorThread(store_uri, port=free_port, token=TOKEN):
        log = eventlog.open(f"http://127.0.0.1:{free_port}", token=TOKEN)
        exp = log.experiment("e")
        exp.start()
    try:
        # The collector is gone: logging still works (no I/O on the hot path), flushing fails loudly.
        log.remote._retries = 1
        for i in range(10):
            exp.log_metric("m", i, step=i)
        with pytest.raises(BackgroundError, match="collector"):
            exp.flush()
        with CollectorThread(store_uri, port=free_port, token=TOKEN):
            log.remote._retries = 4
            exp.flush()
            exp.stop()
            with eventlog.open(store_uri) as direct:
                frame = direct.experiment("e").data(run=1)
        assert frame.filter(pl.col("key") == "m")["value"].to_list() == [float(i) for i in range(10)]
    finally:
        log.recorder.set_deadline(2)  # close() waits at most 2 s for a flush
        try:
            log.close()  # also closes the connection to the collector
        except (BackgroundError, TimeoutError):
            pass  # only when an assertion above failed with the collector down


def test_wrong_token_fails_at_open(collector: CollectorThread) -> None:
    with pytest.raises(RemoteRejectedError, match="401"):
        eventlog.open(collector.url, token="nope")


def test_unreachable_store_says_query_directly(tmp_path: object) -> None:
    with CollectorThread(f"{tmp_path}/store") as running:
        client = RemoteClient(running.url)
        view = UnreachableStore(running.url, str(running.store.uri), "the directory is on another machine")
        with pytest.raises(StoreUnavailableError, match="query the store directly"):
            view.find("seg")
        assert client.store_view().uri == running.store.url("")
        client.close()


def test_claims_go_through_the_collector(collector: CollectorThread, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTLOG_RUN_ID", "job-7")
    first = eventlog.open(collector.url, token=TOKEN)
    second = eventlog.open(collector.url, token=TOKEN)
    try:
        a, b = first.experiment("d"), second.experiment("d")
        assert a.start() == b.start() == 1  # two ranks of one job share the run
        assert first.latest_run("d") == 1
        a.stop()
        b.stop()
        assert len(a.data(run=1, event="start")) == 2
    finally:
        first.close()
        second.close()


@pytest.mark.s3
def test_remote_log_through_an_s3_collector(s3_uri: str) -> None:
    with CollectorThread(s3_uri, token=TOKEN) as running:
        log = eventlog.open(running.url, token=TOKEN)
        try:
            assert log.store.uri.startswith("s3://")  # this process has the credentials: reads go to S3
            with log.experiment("s3exp") as exp:
                for step in range(20):
                    exp.log_metric("loss", step / 10, step=step)
            assert exp.data(key="loss")["value"].to_list() == [step / 10 for step in range(20)]
            assert exp.runs()["status"].to_list() == ["completed"]
        finally:
            log.close()


def test_reconnects_after_the_server_dropped_the_connection(tmp_path: object, free_port: int) -> None:
    client = RemoteClient(f"http://127.0.0.1:{free_port}", retries=1)  # no retry budget: reconnecting must be free
    with CollectorThread(f"{tmp_path}/store", port=free_port):
        assert client.latest_run("e") is None
    with CollectorThread(f"{tmp_path}/store", port=free_port):  # the kept-alive connection is now dead
        assert client.claim_run("e", writer="w") == 1
    client.close()


def test_a_dead_remote_writers_spool_is_sent_through_the_collector_once(collector: CollectorThread) -> None:
    segments = make_segments("dead-1", [10, 20, 5])
    client = RemoteClient(collector.url, token=TOKEN)
    assert client.publish(segments[0]) and not client.publish(segments[0])  # created, then already there
    spool = Spool(spool_dir(collector.url), "dead-1")
    spool.append(segments)
    spool.close(remove=False)  # the writer died with all three frames spooled
    report = recover_remote_spools(client)
    assert (report.events, report.segments, report.already_present, report.spools) == (25, 2, 1, 1)
    assert steps_in_store(collector.store) == list(range(35)) and not os.path.exists(spool.path)
    with eventlog.open(collector.url, token=TOKEN) as log:
        assert log.recover() == 0  # nothing left, nothing duplicated
    client.close()


_KILLED_REMOTE_WRITER = r"""
import os, signal, sys
import eventlog
from eventlog.errors import BackgroundError
log = eventlog.open(sys.argv[1], token="tok", flush_every=60)
exp = log.experiment("e")
exp.start()
print("started", flush=True)
sys.stdin.readline()  # the parent stops the collector
log.remote._retries = 1
for i in range(100):
    exp.log_metric("m", float(i), step=i)
try:
    exp.flush()
except BackgroundError:
    pass
print("spooled", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_remote_writer_killed_while_the_collector_was_down_loses_nothing(tmp_path: object, free_port: int) -> None:
    store_uri, url = f"{tmp_path}/store", f"http://127.0.0.1:{free_port}"
    with CollectorThread(store_uri, port=free_port, token=TOKEN):
        writer = subprocess.Popen([sys.executable, "-c", _KILLED_REMOTE_WRITER, url], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        assert writer.stdout is not None and writer.stdin is not None
        assert writer.stdout.readline().strip() == "started"
    writer.stdin.write("go\n")
    writer.stdin.flush()
    assert writer.stdout.readline().strip() == "spooled"
    assert writer.wait(timeout=30) == -9
    writer.stdin.close()
    writer.stdout.close()
    with CollectorThread(store_uri, port=free_port, token=TOKEN), eventlog.open(url, token=TOKEN) as log:
        assert log.recover() == 0  # opening the log already recovered them
    with eventlog.open(store_uri) as direct:
        values = direct.experiment("e").data(run=1, key="m")["value"].to_list()
    assert values == [float(i) for i in range(100)]


def test_a_remote_spool_that_cannot_be_sent_says_how_to_retry(free_port: int) -> None:
    # Regression: the message said to run `eventlog recover`, which refuses a collector URL and
    # would look in the store's spool directory, not in the one keyed by the collector.
    spool = Spool(spool_dir(f"http://127.0.0.1:{free_port}"), "dead-1")
    spool.append(make_segments("dead-1", [5]))
    spool.close(remove=False)
    client = RemoteClient(f"http://127.0.0.1:{free_port}", retries=1)  # nothing listens there
    with pytest.raises(RecoveryError, match=r"open the log again \(eventlog.open\('http://127.0.0.1") as raised:
        recover_remote_spools(client)
    assert "eventlog recover" not in str(raised.value) and os.path.exists(spool.path)


def _segment_with_refused_events(writer: str, bad_rows: set[int], rows: int = 20) -> list[Segment]:
    """One segment whose rows in `bad_rows` carry an extra named `run`, which the collector refuses."""
    buffer = WriteBuffer(Identity(node="n", userid="u", rank=None, writer=writer))
    good = buffer.slot("e", 1, "metric", "x")
    bad = buffer.slot("e", 1, "metric", "x", {"run": "7"})
    buffer.add_metrics((bad if j in bad_rows else good, float(j), j, T0 + j) for j in range(rows))
    return buffer.drain()


def test_events_the_collector_refuses_are_quarantined_and_the_rest_flows(collector: CollectorThread) -> None:
    client = RemoteClient(collector.url, token=TOKEN)
    segments = _segment_with_refused_events("w-1", {3, 11})
    assert len(segments) == 1
    client.sink(segments)
    assert steps_in_store(collector.store) == [j for j in range(20) if j not in (3, 11)]
    assert client.quarantine.count == 2
    with open(client.quarantine.path) as f:
        lines = [json.loads(line) for line in f]
    assert sorted(line["event"]["step"] for line in lines) == [3, 11]
    assert all("event's own columns" in line["reason"] for line in lines)
    client.sink(segments)  # sent again (a retry): nothing duplicated
    assert len(steps_in_store(collector.store)) == 18
    assert client.quarantine.count == 2  # and set aside once
    client.close()


def test_a_refused_event_in_a_dead_writers_spool_no_longer_blocks_recovery(collector: CollectorThread) -> None:
    spool = Spool(spool_dir(collector.url), "dead-2")
    spool.append(_segment_with_refused_events("dead-2", {0}) + make_segments("dead-2", [5]))
    spool.close(remove=False)
    client = RemoteClient(collector.url, token=TOKEN)
    report = recover_remote_spools(client)
    assert report.spools == 1 and not os.path.exists(spool.path)
    assert client.quarantine.count == 1
    assert len(steps_in_store(collector.store)) == 19 + 5
    client.close()


def test_flush_warns_when_events_were_quarantined(collector: CollectorThread) -> None:
    with eventlog.open(collector.url, token=TOKEN) as log:
        assert log.remote is not None
        log.remote.sink(_segment_with_refused_events(log.identity.writer + "x", {1}))
        with pytest.warns(eventlog.EventsQuarantinedWarning, match=r"1 event\(s\) could not be written"):
            log.flush()
        log.flush()  # reported once
