"""The event: one immutable fact about an experiment, and the Arrow schema derived from it.

`Event` is the single source of truth for the schema (DESIGN §2). The Parquet/Arrow schema of a
segment is derived from its fields in `arrow_schema()`, and nowhere else. Schema evolution rules:
new fields go at the end with a default; never reorder or retype a field.
"""

from __future__ import annotations

import types
import typing
from functools import cache
from typing import Annotated, Any, Final, Union

import msgspec

__all__ = [
    "BUILTIN_KINDS",
    "DT_UNIT",
    "PARTITION_COLUMNS",
    "Event",
    "arrow_schema",
    "dt_array",
    "dt_ns_list",
    "file_columns",
    "polars_schema",
]

#: The event kinds eventlog itself writes; users may log other kinds with `log_event`.
BUILTIN_KINDS = ("start", "stop", "metric", "param", "artifact", "system", "extra")

#: The unit of the `dt` column in files (DESIGN §14); stores written with nanoseconds still read.
DT_UNIT: Final = "us"

#: Columns that live in the hive path (`experiment=<name>/date=<YYYY-MM-DD>`), not inside files.
PARTITION_COLUMNS = ("experiment", "date")

# dt is integer nanoseconds since the Unix epoch (UTC) in memory, msgpack and on the wire, and
# timestamp[us, UTC] in Parquet: Spark 4 refuses nanosecond timestamps, and every engine reads
# microseconds natively; (writer, seq) keeps the order of events logged within a microsecond.
# The annotation tells `arrow_schema` which; `dt_array` converts.
TimestampNs = Annotated[int, msgspec.Meta(extra={"arrow": "timestamp[us, UTC]"})]


class Event(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One immutable event, as logged, spooled and sent over the wire.

    Attributes:
        experiment: experiment name (validated, see `eventlog.core.names`).
        run: run number within the experiment (1, 2, 3, ...).
        step: training step set by the user, or None.
        event: kind: start, stop, metric, param, artifact, system, extra, or a user kind.
        key: metric/param name such as `loss` or `train/acc`.
        value: numeric value (NaN and inf are kept), or None.
        value_json: JSON text of a non-numeric value, or None.
        dt: when it happened, nanoseconds since the Unix epoch (UTC).
        node: host name of the logging process.
        userid: user name of the logging process.
        rank: process rank in a distributed job, or None.
        writer: id of the writing process; (writer, seq) is unique.
        seq: the writer's monotonically increasing sequence number.
        extra: free string columns set by `log_extra`.
    """

    experiment: str
    run: int
    step: int | None
    event: str
    key: str
    value: float | None
    value_json: str | None
    dt: TimestampNs
    node: str
    userid: str
    rank: int | None
    writer: str
    seq: int
    extra: dict[str, str] = {}


def _arrow_type(annotation: Any) -> Any:
    """Map one field annotation to an Arrow type (the only place that knows the mapping)."""
    import pyarrow as pa

    origin = typing.get_origin(annotation)
    if origin is Annotated:
        base, *metas = typing.get_args(annotation)
        for meta in metas:
            if isinstance(meta, msgspec.Meta) and meta.extra and "arrow" in meta.extra:
                return pa.timestamp(DT_UNIT, tz="UTC")
        return _arrow_type(base)
    if origin in (Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _arrow_type(inner)
    if origin is dict:
        return pa.map_(pa.string(), pa.string())
    simple = {int: pa.int64(), float: pa.float64(), str: pa.string()}
    return simple[annotation]


@cache
def arrow_schema(*, with_partitions: bool = False) -> Any:
    """The Arrow schema of a segment file, derived from `Event`'s fields.

    Args:
        with_partitions: include `experiment` (which lives in the hive path, not in files).

    Returns:
        A `pyarrow.Schema`; fields keep `Event`'s order.
    """
    import pyarrow as pa

    hints = typing.get_type_hints(Event, include_extras=True)
    fields = []
    for name in Event.__struct_fields__:
        if name in PARTITION_COLUMNS and not with_partitions:
            continue
        # Every field is nullable in Arrow: polars writes nullable columns, and segments written by
        # pyarrow and by polars (the compactor) must have equal schemas to be concatenated.
        fields.append(pa.field(name, _arrow_type(hints[name])))
    return pa.schema(fields)


def _polars_type(annotation: Any) -> Any:
    """Map one field annotation to a polars type, as `_arrow_type` maps it to Arrow (a test checks
    that the two agree), so that reading needs no pyarrow (0.08 s of every process's first query)."""
    import polars as pl

    origin = typing.get_origin(annotation)
    if origin is Annotated:
        base, *metas = typing.get_args(annotation)
        for meta in metas:
            if isinstance(meta, msgspec.Meta) and meta.extra and "arrow" in meta.extra:
                return pl.Datetime(DT_UNIT, "UTC")
        return _polars_type(base)
    if origin in (Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _polars_type(inner)
    if origin is dict:
        return pl.Map(pl.String, pl.String)
    simple = {int: pl.Int64, float: pl.Float64, str: pl.String}
    return simple[annotation]


@cache
def polars_schema() -> Any:
    """The polars schema of a segment file (no partition columns), derived from `Event`'s fields.

    Returns:
        A `polars.Schema`; the same object on every call, so treat it as read-only.
    """
    import polars as pl

    hints = typing.get_type_hints(Event, include_extras=True)
    return pl.Schema({name: _polars_type(hints[name]) for name in Event.__struct_fields__ if name not in PARTITION_COLUMNS})


def file_columns() -> tuple[str, ...]:
    """Names of the columns stored inside a segment file, in order."""
    return tuple(arrow_schema().names)


def dt_array(nanoseconds: Any) -> Any:
    """The `dt` column of a file from integer nanoseconds since the epoch (a list or numpy array).

    Rounds down to microseconds (the file unit); the nanoseconds stay in memory and on the wire.
    """
    import numpy as np
    import pyarrow as pa

    micros = np.asarray(nanoseconds, dtype=np.int64) // 1_000
    return pa.array(micros, type=pa.int64()).cast(pa.timestamp(DT_UNIT, tz="UTC"))


def dt_ns_list(column: Any) -> list[int]:
    """Integer nanoseconds since the epoch from a file's `dt` column, whatever its unit."""
    import pyarrow as pa

    return column.cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64()).to_pylist()  # type: ignore[no-any-return]
