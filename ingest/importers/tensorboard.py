"""Import TensorBoard event files (`events.out.tfevents.*`): scalars with their steps and wall times, and hparams.

Every directory holding event files is one run (its path relative to the import root names it;
`add_scalars` and `add_hparams` subdirectories are runs of their own, as TensorBoard shows them).
The files are read with a small built-in reader, so neither TensorFlow nor tensorboard is needed:
TFRecord framing (length, CRC of the length, payload, CRC of the payload) around `Event` protocol
buffers, of which only `wall_time`, `step` and `summary.value` (`tag`, `simple_value`, a scalar
`tensor` of the `scalars` plugin, or the `hparams` plugin's session start) are read. Images,
histograms, audio and text are counted as skipped.

Both CRCs of every record are checked (masked CRC32C, as TensorBoard's own loader does, with
google-crc32c of the `importers` extra): a record that fails raises `CorruptRecordError` naming
the file and byte offset, and nothing of that run is imported, so a flipped bit never becomes a
silently wrong value. A truncated last record (a writer still running, or killed) ends that file.

The run number is claimed with the directory's absolute path as job id and the writer id derives
from it; each scalar's sequence number comes from its tag and its position among the tag's
records. Re-importing a directory writes nothing; a run that grew gains its new scalars and a
newer `stop`.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventlog.core import run_claims
from eventlog.core.store import Store
from eventlog.errors import CorruptRecordError, ExtraNotInstalledError
from ingest.importers._writer import (
    EventWriter,
    ImportReport,
    Progress,
    StoredEvents,
    content_index,
    safe_experiment_name,
    stable_seq,
    stable_writer_id,
)

__all__ = ["HParams", "import_tensorboard", "read_records", "read_scalars"]

_EVENT_FILE = "tfevents"
# TensorProto dtypes of scalar summaries: DT_FLOAT, DT_DOUBLE, DT_INT32, DT_INT64, DT_HALF.
_FLOAT, _DOUBLE, _INT32, _INT64 = 1, 2, 3, 9
_CRC_MASK_DELTA = 0xA282EAD8
Scalar = tuple[str, int, float, float]


@dataclass(frozen=True)
class HParams:
    """The hyperparameters of an `hparams` session start (`add_hparams`), as params to import."""

    values: dict[str, Any]
    wall_time: float


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _signed64(varint: int) -> int:
    """A protobuf int64 from its varint (negative numbers arrive as their two's complement)."""
    return varint if varint < 2**63 else varint - 2**64


def _fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of a protobuf message; length-delimited values as bytes."""
    pos = 0
    end = len(data)
    while pos < end:
        tag, pos = _varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, wire, value
        elif wire == 1:
            yield number, wire, data[pos : pos + 8]
            pos += 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            yield number, wire, data[pos : pos + length]
            pos += length
        elif wire == 5:
            yield number, wire, data[pos : pos + 4]
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def _crc32c() -> Callable[[bytes], int]:
    try:
        import google_crc32c
    except ImportError as exc:
        raise ExtraNotInstalledError(
            f"checking TensorBoard records needs google-crc32c ({exc}); install it with: pip install 'eventlog[importers]'"
        ) from exc
    value: Callable[[bytes], int] = google_crc32c.value
    return value


def _masked(crc: int) -> int:
    """TFRecord's masked CRC: rotated right by 15 bits plus a constant (CRCs of CRCs stay distinct)."""
    return (((crc >> 15) | (crc << 17)) + _CRC_MASK_DELTA) & 0xFFFFFFFF


def _records(path: Path) -> Iterator[bytes]:
    """The payloads of a TFRecord file, each CRC checked; stops at a truncated record.

    Raises:
        CorruptRecordError: a complete record's length or payload fails its CRC.
    """
    crc32c = _crc32c()
    with open(path, "rb") as f:
        while True:
            offset = f.tell()
            header = f.read(12)
            if len(header) < 12:
                return
            (length_crc,) = struct.unpack("<I", header[8:])
            if _masked(crc32c(header[:8])) != length_crc:
                raise CorruptRecordError(
                    f"{path}: the record at byte {offset} has a corrupt length (CRC mismatch); nothing of this run was imported",
                    path=str(path),
                    offset=offset,
                )
            (length,) = struct.unpack("<Q", header[:8])
            payload = f.read(length)
            footer = f.read(4)
            if len(payload) < length or len(footer) < 4:
                return
            if _masked(crc32c(payload)) != struct.unpack("<I", footer)[0]:
                raise CorruptRecordError(
                    f"{path}: the record at byte {offset} is corrupt (payload CRC mismatch); nothing of this run was imported",
                    path=str(path),
                    offset=offset,
                )
            yield payload


def _tensor_scalar(data: bytes) -> float | None:
    dtype = 0
    values: list[float] = []
    for number, wire, value in _fields(data):
        if number == 1 and isinstance(value, int):
            dtype = value
        elif number == 2 and isinstance(value, bytes) and any(True for _ in _fields(value)):
            return None  # a shaped tensor (dims present): not a scalar
        elif number == 4 and isinstance(value, bytes):
            fmt = {_FLOAT: "<f", _DOUBLE: "<d", _INT32: "<i", _INT64: "<q"}.get(dtype)
            if fmt is not None and len(value) == struct.calcsize(fmt):
                values.append(float(struct.unpack(fmt, value)[0]))
        elif number == 5 and isinstance(value, bytes):  # float_val: packed (wire 2) or one fixed32 (wire 5)
            values.extend(struct.unpack(f"<{len(value) // 4}f", value))
        elif number == 6 and isinstance(value, bytes):  # double_val: packed (wire 2) or one fixed64 (wire 1)
            values.extend(struct.unpack(f"<{len(value) // 8}d", value))
        elif number in (7, 10) and isinstance(value, bytes) and wire == 2:
            pos = 0
            while pos < len(value):
                item, pos = _varint(value, pos)
                values.append(float(_signed64(item)))
        elif number in (7, 10) and isinstance(value, int):
            values.append(float(_signed64(value)))
    return values[0] if len(values) == 1 else None


def _plugin(metadata: bytes) -> tuple[str, bytes]:
    """(plugin name, plugin content) of a SummaryMetadata."""
    name, content = "", b""
    for number, _wire, value in _fields(metadata):
        if number == 1 and isinstance(value, bytes):  # plugin_data
            for inner, _w, item in _fields(value):
                if inner == 1 and isinstance(item, bytes):
                    name = item.decode("utf-8", "replace")
                elif inner == 2 and isinstance(item, bytes):
                    content = item
    return name, content


def _protobuf_value(data: bytes) -> Any:
    """A google.protobuf.Value: number, string or bool (integral numbers as int: TensorBoard keeps only doubles)."""
    for number, _wire, value in _fields(data):
        if number == 2 and isinstance(value, bytes):
            (double,) = struct.unpack("<d", value)
            return int(double) if double.is_integer() and abs(double) < 2**53 else double
        if number == 3 and isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        if number == 4 and isinstance(value, int):
            return bool(value)
    return None


def _hparams(content: bytes) -> dict[str, Any] | None:
    """The hparams of an HParamsPluginData holding a session start (field 3), else None."""
    for number, _wire, start in _fields(content):
        if number != 3 or not isinstance(start, bytes):
            continue
        values: dict[str, Any] = {}
        for field, _w, entry in _fields(start):
            if field != 1 or not isinstance(entry, bytes):  # map<string, Value> hparams = 1
                continue
            key, value = "", None
            for part, _x, item in _fields(entry):
                if part == 1 and isinstance(item, bytes):
                    key = item.decode("utf-8", "replace")
                elif part == 2 and isinstance(item, bytes):
                    value = _protobuf_value(item)
            if key and value is not None:
                values[key] = value
        return values
    return None


def read_scalars(path: str | os.PathLike[str]) -> Iterator[Scalar | None]:
    """(tag, step, wall_time, value) of every scalar in one event file, in file order.

    Yields None for each summary value that is not a scalar (image, histogram, ...), so callers
    can count what they skip.

    Raises:
        CorruptRecordError: a record fails its CRC (see `read_records`).
    """
    for item in read_records(path):
        if not isinstance(item, HParams):
            yield item


def read_records(path: str | os.PathLike[str]) -> Iterator[Scalar | HParams | None]:
    """Every scalar (as `read_scalars`) and every hparams session start of one event file, in file order.

    Raises:
        CorruptRecordError: a record fails its CRC; the message names the file and byte offset.
        ExtraNotInstalledError: google-crc32c is not installed.
    """
    for record in _records(Path(path)):
        wall_time = 0.0
        step = 0
        summary: bytes | None = None
        for number, _wire, value in _fields(record):
            if number == 1 and isinstance(value, bytes):
                (wall_time,) = struct.unpack("<d", value)
            elif number == 2 and isinstance(value, int):
                step = _signed64(value)
            elif number == 5 and isinstance(value, bytes):
                summary = value
        if summary is None:
            continue
        for number, _wire, item in _fields(summary):
            if number != 1 or not isinstance(item, bytes):
                continue
            tag, scalar, tensor, plugin, content = "", None, None, "", b""
            for field, wire, value in _fields(item):
                if field == 1 and isinstance(value, bytes):
                    tag = value.decode("utf-8", "replace")
                elif field == 2 and wire == 5 and isinstance(value, bytes):
                    (scalar,) = struct.unpack("<f", value)
                elif field == 8 and isinstance(value, bytes):
                    tensor = value
                elif field == 9 and isinstance(value, bytes):
                    plugin, content = _plugin(value)
            if plugin == "hparams":
                hparams = _hparams(content)
                if hparams is not None:
                    yield HParams(hparams, wall_time)
                continue  # the experiment and session-end summaries carry no values
            if scalar is None and tensor is not None and plugin in ("scalars", ""):
                scalar = _tensor_scalar(tensor)
            yield (tag, step, wall_time, float(scalar)) if scalar is not None and tag else None


def _run_dirs(root: Path) -> list[Path]:
    dirs = set()
    for base, _dirs, names in os.walk(root):
        if any(_EVENT_FILE in name for name in names):
            dirs.add(Path(base))
    return sorted(dirs)


def import_tensorboard(
    store: Store, path: str | os.PathLike[str], *, experiment: str | None = None, progress: Progress | None = None
) -> ImportReport:
    """Import the scalars of every TensorBoard run under `path` into `experiment`.

    Args:
        store: the target store.
        path: a log directory (searched recursively) or a single event file.
        experiment: the target experiment (default: the directory's name).
        progress: called with a one-line message per run.

    Returns:
        An `ImportReport` (`skipped` counts non-scalar summaries).

    Raises:
        FileNotFoundError: `path` does not exist or holds no event files.
    """
    source = Path(path).resolve()
    if source.is_file():
        runs = {source.parent: [source]}
        root = source.parent
    elif source.is_dir():
        root = source
        runs = {d: sorted(f for f in d.iterdir() if _EVENT_FILE in f.name and f.is_file()) for d in _run_dirs(source)}
    else:
        raise FileNotFoundError(f"{source} does not exist; pass a TensorBoard log directory or event file")
    if not runs:
        raise FileNotFoundError(f"no TensorBoard event files (events.out.tfevents.*) under {source}")
    name = safe_experiment_name(experiment or root.name)
    report = ImportReport()
    stored = StoredEvents(store, "tb-")
    for run_dir, files in runs.items():
        _import_run(store, name, root, run_dir, files, stored, report, progress)
    return report


def _read_run(files: list[Path], report: ImportReport) -> tuple[list[Scalar], list[HParams]]:
    """Every scalar and hparams record of one run's files, in file-name then file order."""
    scalars: list[Scalar] = []
    hparams: list[HParams] = []
    for file in files:
        for item in read_records(file):
            if item is None:
                report.skipped += 1
            elif isinstance(item, HParams):
                hparams.append(item)
            else:
                scalars.append(item)
    return scalars, hparams


def _import_run(
    store: Store,
    experiment: str,
    root: Path,
    run_dir: Path,
    files: list[Path],
    stored: StoredEvents,
    report: ImportReport,
    progress: Progress | None,
) -> None:
    scalars, hparams = _read_run(files, report)  # all of it, so a corrupt record imports nothing of the run
    if not scalars and not hparams:
        return
    writer = stable_writer_id("tb", str(run_dir))
    run = run_claims.claim_run(store, experiment, writer=writer, job=f"tensorboard:{run_dir}")
    out = EventWriter(store, writer, report, node="tensorboard-import", stored=stored.seqs(experiment, writer))
    times = [s[2] for s in scalars] + [h.wall_time for h in hparams]
    first, last = min(times), max(times)
    name = run_dir.relative_to(root).as_posix()
    start_extra = {"source": "tensorboard", "name": name}
    out.add(experiment, run, "start", "run", run, dt_ns=int(first * 1e9), extra=start_extra, seq=stable_seq("start", "run", 0))
    for params in hparams:
        for key, value in params.values.items():
            out.add(experiment, run, "param", key, value, dt_ns=int(params.wall_time * 1e9), seq=stable_seq("param", key, 0))
    seen: dict[str, int] = {}
    for tag, step, wall_time, value in scalars:
        index = seen[tag] = seen.get(tag, -1) + 1
        out.add(
            experiment, run, "metric", tag, value, dt_ns=int(wall_time * 1e9), step=step, seq=stable_seq("metric", tag, index)
        )
    info = {"status": "completed", "duration_s": last - first}
    stop_seq = stable_seq("stop", "run", content_index(len(scalars), last))  # a run that grew gets a newer stop
    out.add(experiment, run, "stop", "run", info, dt_ns=int(last * 1e9), seq=stop_seq)
    out.flush()
    report.runs += 1
    if progress is not None:
        progress(f"tensorboard {name} -> {experiment} run {run} ({len(scalars)} scalars)")
