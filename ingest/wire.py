"""The collector's wire format: a msgpack batch of events, its validation, and its segments.

A batch (the body of `POST /v1/events`, content type `application/msgpack`) comes in one of two
shapes, both plain msgpack that any language can produce:

- rows: an array of events, each an array of `eventlog.core.event.Event`'s fields in order
  (`experiment, run, step, event, key, value, value_json, dt, node, userid, rank, writer, seq[,
  extra]`; `dt` in integer nanoseconds since the epoch, UTC);
- columns: a map from each of those field names to an array of values (all of one length;
  `extra` may be left out). The remote client sends this shape: it needs no per-event objects on
  either side, so it is several times cheaper to produce and to decode.

`decode_batch` checks types with msgspec and names with `eventlog.core.names`, and raises `BatchError`
naming the first bad event and field; `segments_from_columns` groups a valid batch by
(experiment, date, writer) into segments named by their first `seq`, so a retried batch maps to
the same files and create-if-absent makes it idempotent.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import msgspec

from eventlog.core.artifact_refs import check_reference
from eventlog.core.event import Event, arrow_schema, dt_array, dt_ns_list
from eventlog.core.layout import date_of_ns
from eventlog.core.names import validate_experiment, validate_extra_name, validate_key, validate_kind, validate_writer
from eventlog.core.segment import Segment, encode_segment
from eventlog.core.values import MAX_DT_NS, MIN_DT_NS
from eventlog.errors import BatchError, InvalidNameError, UnsafeArtifactError

__all__ = [
    "MAX_BATCH_EVENTS",
    "BatchError",
    "Columns",
    "batch_segments",
    "columns_from_table",
    "decode_batch",
    "encode_batch",
    "encode_columns",
    "segments_from_columns",
]

#: Events per batch accepted by the collector (a larger batch gets a 400 saying to split it).
MAX_BATCH_EVENTS = 1_000_000
_FIELDS = Event.__struct_fields__
_encoder = msgspec.msgpack.Encoder()
_ROW_PATH = re.compile(r"\$\[(\d+)\](?:\[(\d+)\])?")
_COLUMN_PATH = re.compile(r"\$\.(\w+)(?:\[(\d+)\])?")
_EXPERIMENT, _DT, _WRITER, _SEQ, _EXTRA = (_FIELDS.index(name) for name in ("experiment", "dt", "writer", "seq", "extra"))
_NS_PER_DAY = 86_400 * 10**9
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class Columns(msgspec.Struct, forbid_unknown_fields=True):
    """The columnar batch shape: one array per `Event` field, all of one length."""

    experiment: list[str]
    run: list[int]
    step: list[int | None]
    event: list[str]
    key: list[str]
    value: list[float | None]
    value_json: list[str | None]
    dt: list[int]
    node: list[str]
    userid: list[str]
    rank: list[int | None]
    writer: list[str]
    seq: list[int]
    extra: list[dict[str, str]] | None = None


_decoder = msgspec.msgpack.Decoder(list[Event] | Columns)


def encode_batch(events: list[Event] | list[tuple[Any, ...]]) -> bytes:
    """Encode events (structs, or tuples in `Event` field order) as a row-shaped batch body."""
    return _encoder.encode(events)


def encode_columns(columns: dict[str, list[Any]]) -> bytes:
    """Encode a column-shaped batch body (a map from `Event` field names to equal-length lists)."""
    return _encoder.encode(columns)


def decode_batch(body: bytes) -> list[Sequence[Any]]:
    """Decode and validate a batch body (rows or columns).

    Args:
        body: the msgpack bytes of a batch.

    Returns:
        The batch as columns in `Event` field order (`extra` as a list of dicts).

    Raises:
        BatchError: the body is not msgpack, not a batch, an event has a field of the wrong type
            or out of range, a bad experiment name, key or writer id, columns of different
            lengths, or the batch is empty or too large.
    """
    if not body:
        raise BatchError("empty body: send a msgpack batch of events (see ingest.wire)")
    try:
        decoded = _decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise _located(str(exc)) from exc
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # msgspec raises the latter for bad UTF-8 in a str
        raise BatchError(f"the body is not valid msgpack ({exc}); send a msgpack batch of events") from exc
    columns = _columns_of(decoded) if isinstance(decoded, Columns) else _columns_of_events(decoded)
    if not columns or not columns[0]:
        raise BatchError("the batch holds no events; send at least one")
    if len(columns[0]) > MAX_BATCH_EVENTS:
        raise BatchError(f"the batch holds {len(columns[0])} events, at most {MAX_BATCH_EVENTS} are allowed; split it")
    _check_names(columns)
    return columns


def _columns_of(batch: Columns) -> list[Sequence[Any]]:
    n = len(batch.experiment)
    columns: list[Sequence[Any]] = []
    for name in _FIELDS:
        column = getattr(batch, name)
        if column is None:  # extra left out
            column = [{}] * n
        if len(column) != n:
            raise BatchError(
                f"invalid batch: column {name!r} has {len(column)} values but 'experiment' has {n}; "
                "every column needs one value per event",
                field=name,
            )
        columns.append(column)
    return columns


def _columns_of_events(events: list[Event]) -> list[Sequence[Any]]:
    """Event structs as columns in `Event` field order ([] for no events)."""
    return list(zip(*map(msgspec.structs.astuple, events)))


def _located(message: str) -> BatchError:
    """A BatchError for a msgspec message such as "Expected `int`, got `str` - at `$[3][1]`" (or `$.run[3]`)."""
    found = _ROW_PATH.search(message)
    index: int | None
    if found is not None:
        index = int(found[1])
        field = _FIELDS[int(found[2])] if found[2] is not None and int(found[2]) < len(_FIELDS) else None
    else:
        found = _COLUMN_PATH.search(message)
        if found is None:
            return BatchError(f"invalid batch: {message}; send a msgpack batch of events (see ingest.wire)")
        field = found[1]
        index = int(found[2]) if found[2] is not None else None
    where = ", ".join(
        part for part in (f"event {index}" if index is not None else "", f"field {field!r}" if field else "") if part
    )
    return BatchError(f"invalid {where}: {message}", index=index, field=field)


def _check_names(columns: list[Sequence[Any]]) -> None:
    """Validate names once per distinct value (batches repeat a handful of them), and integer ranges."""
    checks: tuple[tuple[str, Any], ...] = (
        ("experiment", validate_experiment),
        ("key", validate_key),
        ("event", validate_kind),
        ("writer", validate_writer),
    )
    for field, check in checks:
        values = columns[_FIELDS.index(field)]
        for value in set(values):
            try:
                check(value)
            except (InvalidNameError, ValueError) as exc:
                index = list(values).index(value)
                raise BatchError(f"invalid event {index}, field {field!r}: {exc}", index=index, field=field) from exc
    bounds = (("run", 1, _INT64_MAX), ("step", _INT64_MIN, _INT64_MAX), ("dt", MIN_DT_NS, MAX_DT_NS),
              ("rank", _INT64_MIN, _INT64_MAX), ("seq", 0, _INT64_MAX))  # fmt: skip
    for field, low, high in bounds:
        values = columns[_FIELDS.index(field)]
        present = [v for v in values if v is not None] if field in ("step", "rank") else values
        if present and (min(present) < low or max(present) > high):
            index = next(i for i, v in enumerate(values) if v is not None and not low <= v <= high)
            raise BatchError(
                f"invalid event {index}, field {field!r}: {values[index]} is out of range [{low}, {high}]",
                index=index,
                field=field,
            )
    _check_artifact_references(columns)
    for index, extra in enumerate(columns[_EXTRA]):
        if extra:
            for name in extra:
                try:
                    validate_extra_name(name)
                except InvalidNameError as exc:
                    raise BatchError(f"invalid event {index}, field 'extra': {exc}", index=index, field="extra") from exc


def _check_artifact_references(columns: list[Sequence[Any]]) -> None:
    """An artifact event's reference must point into its own run's artifact area (see `eventlog.core.artifact_refs`)."""
    kinds = columns[_FIELDS.index("event")]
    if "artifact" not in kinds:
        return
    experiments, runs, texts = (columns[_FIELDS.index(name)] for name in ("experiment", "run", "value_json"))
    for index, kind in enumerate(kinds):
        if kind != "artifact":
            continue
        try:
            check_reference(json.loads(texts[index] or "null"), experiments[index], runs[index])
        except (ValueError, UnsafeArtifactError) as exc:
            raise BatchError(f"invalid event {index}, field 'value_json': {exc}", index=index, field="value_json") from exc


def batch_segments(events: list[Event]) -> list[Segment]:
    """Group a valid batch by (experiment, date, writer) into encoded segments, in first-seq order.

    Each segment is named by its writer and smallest `seq`, exactly as the writer's own flusher
    would name it, so a retried batch (or the same events written directly) never duplicates.
    """
    return segments_from_columns(_columns_of_events(events))


def segments_from_columns(columns: list[Sequence[Any]]) -> list[Segment]:
    """`batch_segments` for a batch already in columns (`Event` field order), as `decode_batch` returns it."""
    experiments, dts, writers = columns[_EXPERIMENT], columns[_DT], columns[_WRITER]
    days = [dt // _NS_PER_DAY for dt in dts] if min(dts) // _NS_PER_DAY != max(dts) // _NS_PER_DAY else None
    if days is None and len(set(experiments)) == 1 and len(set(writers)) == 1:
        # The common case (one writer's flush of one experiment on one day): no per-event grouping.
        groups: dict[tuple[str, int, str], list[int] | None] = {(experiments[0], dts[0] // _NS_PER_DAY, writers[0]): None}
    else:
        index: dict[tuple[str, int, str], list[int]] = defaultdict(list)
        for i, key in enumerate(zip(experiments, days or [dts[0] // _NS_PER_DAY] * len(dts), writers)):
            index[key].append(i)
        groups = dict(index.items())
    segments = []
    for (experiment, day, writer), indices in groups.items():
        part = columns if indices is None else [[column[i] for i in indices] for column in columns]
        seqs = part[_SEQ]
        if any(a > b for a, b in pairwise(seqs)):
            order = sorted(range(len(seqs)), key=seqs.__getitem__)
            part = [[column[i] for i in order] for column in part]
        date = date_of_ns(day * _NS_PER_DAY)
        segments.append(encode_segment(experiment, date, writer, part[_SEQ][0], _table(part)))
    return sorted(segments, key=lambda s: (s.writer, s.first_seq))


def _table(columns: list[Any]) -> Any:
    """A pyarrow Table of segment file columns from `Event`-ordered columns (column-wise: fast)."""
    import pyarrow as pa

    schema = arrow_schema()
    arrays = []
    for field in schema:
        column = columns[_FIELDS.index(field.name)]
        if field.name == "extra":
            if any(column):
                arrays.append(pa.array([list(extra.items()) for extra in column], type=field.type))
            else:
                arrays.append(pa.array([[]] * len(column), type=field.type))
        elif field.name == "dt":
            arrays.append(dt_array(column))
        else:
            arrays.append(pa.array(column, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def columns_from_table(table: Any, experiment: str) -> dict[str, list[Any]]:
    """A segment's pyarrow Table (file columns, no `experiment`) as a column-shaped batch.

    Used by the remote client to send a Parquet segment without building per-event objects.
    """

    n = table.num_rows
    columns: dict[str, list[Any]] = {}
    for name in _FIELDS:
        if name == "experiment":
            columns[name] = [experiment] * n
        elif name == "dt":
            columns[name] = dt_ns_list(table.column("dt"))
        elif name == "extra":
            extra = table.column("extra")
            if any(len(chunk.keys) for chunk in extra.chunks):
                columns[name] = [dict(pairs) if pairs else {} for pairs in extra.to_pylist()]
        else:
            columns[name] = table.column(name).to_pylist()
    return columns
