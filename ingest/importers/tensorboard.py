"""Import TensorBoard event files (`events.out.tfevents.*`): scalars with their steps and wall times.

Every directory holding event files is one run (its path relative to the import root names it;
`add_scalars` subdirectories are runs of their own, as TensorBoard shows them). The files are read
with a small built-in reader, so neither TensorFlow nor tensorboard is needed: TFRecord framing
(length, CRC, payload, CRC) around `Event` protocol buffers, of which only `wall_time`, `step` and
`summary.value` (`tag`, `simple_value`, or a scalar `tensor` of the `scalars` plugin) are read.
Images, histograms, audio and text are counted as skipped. A truncated last record (a writer still
running, or killed) ends that file.

The run number is claimed with the directory's absolute path as job id and the writer id derives
from it, so importing the same directory twice creates nothing new.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

from eventlog.core import run_claims
from eventlog.core.store import Store
from ingest.importers._writer import EventWriter, ImportReport, Progress, safe_experiment_name, stable_writer_id

__all__ = ["import_tensorboard", "read_scalars"]

_EVENT_FILE = "tfevents"
# TensorProto dtypes of scalar summaries: DT_FLOAT, DT_DOUBLE, DT_INT32, DT_INT64, DT_HALF.
_FLOAT, _DOUBLE, _INT32, _INT64 = 1, 2, 3, 9


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


def _records(path: Path) -> Iterator[bytes]:
    """The payloads of a TFRecord file; stops at a truncated record."""
    with open(path, "rb") as f:
        while True:
            header = f.read(12)
            if len(header) < 12:
                return
            (length,) = struct.unpack("<Q", header[:8])
            payload = f.read(length)
            footer = f.read(4)
            if len(payload) < length or len(footer) < 4:
                return
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


def _plugin(metadata: bytes) -> str:
    for number, _wire, value in _fields(metadata):
        if number == 1 and isinstance(value, bytes):  # plugin_data
            for inner, _w, name in _fields(value):
                if inner == 1 and isinstance(name, bytes):
                    return name.decode("utf-8", "replace")
    return ""


def read_scalars(path: str | os.PathLike[str]) -> Iterator[tuple[str, int, float, float] | None]:
    """(tag, step, wall_time, value) of every scalar in one event file, in file order.

    Yields None for each summary value that is not a scalar (image, histogram, ...), so callers
    can count what they skip.
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
            tag, scalar, tensor, plugin = "", None, None, ""
            for field, wire, value in _fields(item):
                if field == 1 and isinstance(value, bytes):
                    tag = value.decode("utf-8", "replace")
                elif field == 2 and wire == 5 and isinstance(value, bytes):
                    (scalar,) = struct.unpack("<f", value)
                elif field == 8 and isinstance(value, bytes):
                    tensor = value
                elif field == 9 and isinstance(value, bytes):
                    plugin = _plugin(value)
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
    for run_dir, files in runs.items():
        _import_run(store, name, root, run_dir, files, report, progress)
    return report


def _import_run(
    store: Store, experiment: str, root: Path, run_dir: Path, files: list[Path], report: ImportReport, progress: Progress | None
) -> None:
    scalars: list[tuple[str, int, float, float]] = []
    for file in files:
        for item in read_scalars(file):
            if item is None:
                report.skipped += 1
            else:
                scalars.append(item)
    if not scalars:
        return
    writer = stable_writer_id("tb", str(run_dir))
    run = run_claims.claim_run(store, experiment, writer=writer, job=f"tensorboard:{run_dir}")
    out = EventWriter(store, writer, report, node="tensorboard-import")
    first = min(s[2] for s in scalars)
    last = max(s[2] for s in scalars)
    name = run_dir.relative_to(root).as_posix()
    out.add(experiment, run, "start", "run", run, dt_ns=int(first * 1e9), extra={"source": "tensorboard", "name": name})
    for tag, step, wall_time, value in scalars:
        out.add(experiment, run, "metric", tag, value, dt_ns=int(wall_time * 1e9), step=step)
    info = {"status": "completed", "duration_s": last - first}
    out.add(experiment, run, "stop", "run", info, dt_ns=int(last * 1e9))
    out.flush()
    report.runs += 1
    if progress is not None:
        progress(f"tensorboard {name} -> {experiment} run {run} ({len(scalars)} scalars)")
