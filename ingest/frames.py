"""The spool's frame format: one encoded segment per frame, checked by a CRC.

A frame is::

    b"ELS1" | header length (u32 LE) | payload length (u32 LE) | CRC-32 (u32 LE) | header | payload

where the header is a msgspec-msgpack `FrameHeader` (segment path, writer, first seq, count) and
the payload is the segment's Parquet bytes. The CRC covers both lengths, the header and the
payload, so a torn or corrupt frame is detected, reported and skipped. `ingest.spool` appends
frames to a writer's spool file; `ingest.recovery` decodes a dead writer's frames back into
publishable segments at the paths recorded in them.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import msgspec

from eventlog.core import layout
from eventlog.core.segment import Segment

__all__ = ["FRAME_MAGIC", "FrameHeader", "ScanResult", "decode_frames", "encode_frame", "iter_segments"]

FRAME_MAGIC = b"ELS1"
_PREFIX = struct.Struct("<4sIII")  # magic, header length, payload length, crc32
_MAX_HEADER = 1 << 16


class FrameHeader(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """What a frame's payload is: the segment `path` (relative to the store root) and its events."""

    path: str
    writer: str
    first_seq: int
    count: int


_header_encoder = msgspec.msgpack.Encoder()
_header_decoder = msgspec.msgpack.Decoder(FrameHeader)


def encode_frame(segment: Segment) -> bytes:
    """One spool frame holding `segment` (header + Parquet bytes, length and CRC framed)."""
    header = _header_encoder.encode(FrameHeader(segment.path, segment.writer, segment.first_seq, segment.count))
    lengths = struct.pack("<II", len(header), len(segment.data))
    crc = zlib.crc32(segment.data, zlib.crc32(header, zlib.crc32(lengths)))
    return b"".join((_PREFIX.pack(FRAME_MAGIC, len(header), len(segment.data), crc), header, segment.data))


@dataclass
class ScanResult:
    """The valid frames of a spool file and what was wrong with the rest.

    Attributes:
        frames: (header, payload) of every valid frame, in file order.
        problems: one message per torn or corrupt region before the end (offset and reason).
        bad_bytes: how many bytes were skipped for those.
        torn_tail: the bytes of an unfinished last frame (0 if none): the append a crash cut
            short. It is not a problem: its batch was never published, so never acknowledged.
    """

    frames: list[tuple[FrameHeader, bytes]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    bad_bytes: int = 0
    torn_tail: int = 0


def _frame_at(data: bytes, offset: int) -> tuple[FrameHeader, bytes, int] | str:
    """The frame starting at `offset` and the offset after it, or why there is none."""
    if len(data) - offset < _PREFIX.size:
        return "torn frame prefix"
    magic, hlen, plen, crc = _PREFIX.unpack_from(data, offset)
    if magic != FRAME_MAGIC:
        return "no frame marker"
    start = offset + _PREFIX.size
    end = start + hlen + plen
    if hlen > _MAX_HEADER or end > len(data):
        return f"torn frame (declares {hlen + plen} bytes, {len(data) - start} left)"
    header_bytes = data[start : start + hlen]
    payload = data[start + hlen : end]
    actual = zlib.crc32(payload, zlib.crc32(header_bytes, zlib.crc32(struct.pack("<II", hlen, plen))))
    if actual != crc:
        return "CRC mismatch"
    try:
        header = _header_decoder.decode(header_bytes)
    except msgspec.DecodeError as exc:
        return f"undecodable header ({exc})"
    return header, payload, end


def decode_frames(data: bytes) -> ScanResult:
    """Every valid frame in `data`; a bad region is reported and skipped up to the next valid frame.

    An unfinished frame at the very end (the append a kill or power loss interrupted) is counted in
    `torn_tail`, not reported as a problem.

    Args:
        data: the content of a spool file.

    Returns:
        The valid frames in order, plus one message per skipped region.
    """
    result = ScanResult()
    offset = 0
    while offset < len(data):
        found = _frame_at(data, offset)
        if not isinstance(found, str):
            header, payload, offset = found
            result.frames.append((header, payload))
            continue
        # Resynchronise: the next offset where a whole valid frame starts (the CRC rules out
        # a marker that merely happens to appear inside a payload).
        reason, bad_start = found, offset
        candidate = data.find(FRAME_MAGIC, offset + 1)
        while candidate != -1 and isinstance(_frame_at(data, candidate), str):
            candidate = data.find(FRAME_MAGIC, candidate + 1)
        if candidate == -1 and reason.startswith("torn"):  # the last append, cut short
            result.torn_tail = len(data) - bad_start
            break
        offset = len(data) if candidate == -1 else candidate
        result.bad_bytes += offset - bad_start
        result.problems.append(f"{reason} at byte {bad_start}: skipped {offset - bad_start} byte(s)")
    return result


def _segment_of(header: FrameHeader, payload: bytes) -> Segment:
    """A publishable Segment from a frame, at the path recorded in it.

    The experiment and date come from that path too: a remote log's sink needs the experiment,
    which the segment's Parquet columns do not hold.
    """
    return _SpooledSegment(
        experiment=layout.experiment_of(header.path) or "",
        date=layout.date_of(header.path) or "",
        writer=header.writer,
        first_seq=header.first_seq,
        count=header.count,
        data=payload,
        runs=layout.segment_runs(header.path),
        spooled_path=header.path,
    )


@dataclass(frozen=True)
class _SpooledSegment(Segment):
    """A segment read back from a spool frame: its path is the one recorded in the frame."""

    spooled_path: str = ""

    @property
    def path(self) -> str:
        """The path recorded in the frame."""
        return self.spooled_path


def iter_segments(frames: list[tuple[FrameHeader, bytes]]) -> Iterator[Segment]:
    """Publishable segments from decoded frames."""
    for header, payload in frames:
        yield _segment_of(header, payload)
