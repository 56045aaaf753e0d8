"""The spool's frames: round trip, torn tails and corrupt frames detected by CRC, the writer's lock."""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventlog.core.segment import Segment
from ingest.frames import FRAME_MAGIC, decode_frames, encode_frame, iter_segments
from ingest.spool import Spool, SpoolOutbox


def seg(first_seq: int, data: bytes, count: int = 3) -> Segment:
    return Segment(experiment="e", date="2026-11-23", writer="w1", first_seq=first_seq, count=count, data=data)


def frames_of(segments: list[Segment]) -> bytes:
    return b"".join(encode_frame(s) for s in segments)


def test_frames_round_trip_with_path_writer_seq_and_count() -> None:
    segments = [seg(0, b"PAR1 one"), seg(3, b"PAR1 two" * 100, count=7)]
    scan = decode_frames(frames_of(segments))
    assert scan.problems == [] and scan.bad_bytes == 0
    assert [(h.path, h.writer, h.first_seq, h.count, p) for h, p in scan.frames] == [
        (s.path, "w1", s.first_seq, s.count, s.data) for s in segments
    ]


def test_segments_read_back_from_frames_keep_their_experiment_date_and_path() -> None:
    # A remote log's sink sends the experiment, which the Parquet columns do not hold (1b141c2).
    original = Segment(experiment="my exp #1", date="2026-11-23", writer="w1", first_seq=3, count=2, data=b"PAR1")
    (back,) = iter_segments(decode_frames(encode_frame(original)).frames)
    assert (back.experiment, back.date, back.path) == ("my exp #1", "2026-11-23", original.path)
    assert (back.writer, back.first_seq, back.count, back.data) == ("w1", 3, 2, b"PAR1")


def test_a_torn_tail_is_counted_not_reported_and_everything_before_it_kept() -> None:
    data = frames_of([seg(0, b"a" * 50), seg(3, b"b" * 50)])
    torn = data[:-10]
    scan = decode_frames(torn)
    assert [h.first_seq for h, _ in scan.frames] == [0]
    assert scan.problems == [] and scan.torn_tail == len(encode_frame(seg(3, b"b" * 50))) - 10


def test_a_torn_frame_followed_by_whole_ones_is_a_problem() -> None:
    first, second = encode_frame(seg(0, b"a" * 50)), encode_frame(seg(3, b"b" * 50))
    scan = decode_frames(first[:-10] + second)  # not the last append: the disk lost bytes
    assert [h.first_seq for h, _ in scan.frames] == [3]
    assert len(scan.problems) == 1 and scan.torn_tail == 0  # its declared length runs into the next frame: a CRC mismatch


def test_a_corrupt_frame_in_the_middle_is_skipped_and_later_frames_found() -> None:
    first, middle, last = encode_frame(seg(0, b"x" * 40)), encode_frame(seg(3, b"y" * 40)), encode_frame(seg(6, b"z" * 40))
    flipped = bytearray(middle)
    flipped[-5] ^= 0xFF  # one bit-rotten payload byte
    scan = decode_frames(first + bytes(flipped) + last)
    assert [h.first_seq for h, _ in scan.frames] == [0, 6]
    assert len(scan.problems) == 1 and "CRC mismatch" in scan.problems[0]
    assert scan.bad_bytes == len(middle)


def test_garbage_that_contains_the_frame_marker_is_not_taken_for_a_frame() -> None:
    junk = b"\x00" * 7 + FRAME_MAGIC + b"\xff" * 30
    scan = decode_frames(encode_frame(seg(0, b"ok")) + junk)
    assert [h.first_seq for h, _ in scan.frames] == [0]
    assert scan.bad_bytes == len(junk)


@given(
    payloads=st.lists(st.binary(min_size=1, max_size=200), min_size=1, max_size=6),
    cut=st.integers(min_value=0, max_value=10_000),
)
def test_any_truncation_keeps_exactly_the_complete_frames(payloads: list[bytes], cut: int) -> None:
    encoded = [encode_frame(seg(3 * i, p)) for i, p in enumerate(payloads)]
    data = b"".join(encoded)
    cut = min(cut, len(data))
    scan = decode_frames(data[:cut])
    complete = 0
    end = 0
    for frame in encoded:
        if end + len(frame) > cut:
            break
        end += len(frame)
        complete += 1
    assert [p for _, p in scan.frames] == payloads[:complete]
    assert scan.problems == [] and scan.torn_tail == cut - end


def test_the_live_writer_holds_an_exclusive_lock_on_its_spool(tmp_path: object) -> None:
    spool = Spool(str(tmp_path), "w1")
    spool.append([seg(0, b"data")])
    fd = os.open(spool.path, os.O_RDONLY)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        spool.close(remove=False)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released: now anyone may recover it
    finally:
        os.close(fd)
    assert os.path.exists(spool.path)


def test_outbox_spools_before_sending_and_empties_the_spool_after() -> None:
    import tempfile

    sent: list[list[Segment]] = []
    seen_on_disk: list[int] = []

    with tempfile.TemporaryDirectory() as tmp:
        spool = Spool(tmp, "w1")

        def sink(segments: list[Segment]) -> None:
            seen_on_disk.append(spool.size())  # the frame is on disk before the store sees it
            sent.append(segments)

        outbox = SpoolOutbox(spool, sink)
        outbox.put([seg(0, b"one"), seg(3, b"two")])
        assert outbox.pending() == 6
        assert outbox.send() == (2, 6)
        assert all(size > 0 for size in seen_on_disk)
        assert spool.size() == 0 and outbox.pending() == 0
        outbox.close(clean=True)
        assert not os.path.exists(spool.path)


def test_outbox_resends_from_the_spool_after_a_failure_without_duplicating_frames(tmp_path: object) -> None:
    spool = Spool(str(tmp_path), "w1")
    published: list[int] = []
    fail = {"on": 3}

    def sink(segments: list[Segment]) -> None:
        for s in segments:
            if s.first_seq == fail["on"]:
                raise OSError("store down")
            published.append(s.first_seq)

    outbox = SpoolOutbox(spool, sink)
    outbox.put([seg(0, b"a"), seg(3, b"b")])
    with pytest.raises(OSError):
        outbox.send()
    outbox.put([seg(6, b"c")])  # the store is down, the spool keeps taking batches
    assert outbox.accepts_more and outbox.pending() == 6
    fail["on"] = -1
    assert outbox.send() == (2, 6)  # read back from the spool: seq 3 and 6, not 0 again
    assert published == [0, 3, 6]
    assert spool.size() == 0


def test_an_unwritable_spool_degrades_to_memory_with_a_warning_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import eventlog
    import query

    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the spool directory should be")
    monkeypatch.setenv("EVENTLOG_SPOOL_DIR", str(blocker))
    uri = str(tmp_path / "store")
    log = eventlog.open(uri, flush_every=3600)
    with caplog.at_level(logging.WARNING, logger="eventlog.spool"), log.experiment("e") as exp:
        for i in range(100):
            exp.log_metric("x", float(i), step=i)
    log.close()
    assert any("cannot write the spool" in r.getMessage() for r in caplog.records)
    assert query.data(uri, experiment="e", run="*", event="metric")["step"].sort().to_list() == list(range(100))
