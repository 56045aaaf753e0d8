"""Segments: immutable Parquet files of one writer's events for one partition (experiment, date).

A segment is encoded once (`encode_table`) and published under its final name with
create-if-absent (`publish`). Its name is the sequence number of its first event and the range of
run numbers of its events (`layout.segment_path`), both fixed by its content, so a retry, or a
recovery from the spool (which records the path), reuses the same name and can never duplicate it.

Encoding choices (measured in benchmarks/bench_log.py): zstd level 1; `dt`, `seq` and `step`
delta-encoded (they increase, so deltas pack into a few bits); dictionary encoding for the low-cardinality columns;
no stored Arrow schema, so that dictionary-typed inputs read back as plain strings everywhere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from eventlog.core import layout
from eventlog.core.event import Event, arrow_schema, dt_array, polars_schema
from eventlog.core.store import Store
from eventlog.errors import AlreadyExistsError

__all__ = [
    "PARQUET_WRITE_OPTIONS",
    "Segment",
    "encode_segment",
    "encode_table",
    "polars_scan_options",
    "publish",
    "run_range",
    "table_from_events",
]

#: How every eventlog Parquet file is written (raw segments and compacted files alike).
PARQUET_WRITE_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 1,  # measured: 20% faster than the default level, same size on metrics
    "use_dictionary": ["run", "event", "key", "node", "userid", "rank", "writer", "value_json"],
    "column_encoding": {"dt": "DELTA_BINARY_PACKED", "seq": "DELTA_BINARY_PACKED", "step": "DELTA_BINARY_PACKED"},
    "store_schema": False,
    "write_statistics": True,
}


@dataclass(frozen=True)
class Segment:
    """An encoded segment ready to publish: where it goes and its Parquet bytes."""

    experiment: str
    date: str
    writer: str
    first_seq: int
    count: int
    data: bytes
    runs: tuple[int, int] | None = None  # its lowest and highest run number, named in its path

    @property
    def path(self) -> str:
        """Its path relative to the store root."""
        return layout.segment_path(self.experiment, self.date, self.writer, self.first_seq, self.runs)


#: Tables of fewer rows are written uncompressed: zstd's per-column set-up is ~20 % of encoding a
#: 20-row segment (a short run's stop flush) and saves 2 % of its bytes; at 100 rows it saves 25 %.
COMPRESS_FROM_ROWS = 64
#: The columns whose footer statistics readers prune by (query.files: run and dt; polars: the
#: filters on event, key, step and seq). A tiny segment keeps only these: statistics on the other
#: seven columns cost ~10 % of encoding it and ~15 % of its bytes, and tell no reader anything.
PRUNED_COLUMNS = ["run", "event", "key", "step", "dt", "seq"]
_TINY_WRITE_OPTIONS = {k: v for k, v in PARQUET_WRITE_OPTIONS.items() if k != "compression_level"} | {
    "compression": "none",
    "write_statistics": PRUNED_COLUMNS,
}


def encode_table(table: Any) -> bytes:
    """Encode a pyarrow Table with the segment file columns (in `arrow_schema()` order) as Parquet bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **(PARQUET_WRITE_OPTIONS if table.num_rows >= COMPRESS_FROM_ROWS else _TINY_WRITE_OPTIONS))
    return bytes(sink.getvalue().to_pybytes())


def encode_segment(experiment: str, date: str, writer: str, first_seq: int, table: Any) -> Segment:
    """Encode one writer's events of one partition (a pyarrow Table of the file columns) as a segment.

    Its name is fixed by its content, here and only here: the first event's sequence number
    (`first_seq`) and the range of its run column (`run_range`), so that every way of making a
    segment (the flusher, the collector, the importers) names the same events the same way.
    """
    return Segment(experiment, date, writer, first_seq, table.num_rows, encode_table(table), run_range(table.column("run")))


def run_range(runs: Any) -> tuple[int, int] | None:
    """The lowest and highest run number of a file's `run` column (a pyarrow Array or ChunkedArray).

    Returns:
        (low, high), or None when the column is empty, holds a null or a negative number: such a
        segment's name states no range, and readers open it whatever runs they want.
    """
    import pyarrow.compute as pc

    if len(runs) == 0 or runs.null_count:
        return None
    bounds = pc.min_max(runs)  # not ChunkedArray.to_numpy(): it imports pandas, ~0.5 s in a training process's first flush
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    return (low, high) if low >= 0 else None


def publish(store: Store, segment: Segment) -> bool:
    """Publish a segment with create-if-absent.

    Names created earlier without a sync of their own (a sweep's run claims, `Store.sync_pending`)
    are made durable first, so that no event becomes durable before the claim of its run.
    A segment of a partition older than `tombstones.CHECKED_DAYS` days is first checked against
    the visible compacted files (its tombstone may have expired: `eventlog.core.tombstones`).

    Returns:
        True if this call created it, False if it was already there (an earlier try landed, or
        its events are already in a compacted file).
    """
    from eventlog.core import tombstones  # it reads manifests, which read nothing of this module

    if tombstones.is_old(segment.date, days=tombstones.CHECKED_DAYS, now=time.time()) and tombstones.already_compacted(
        store, segment.experiment, segment.date, segment.writer, segment.data
    ):
        return False
    store.sync_pending()
    try:
        store.create(segment.path, segment.data)
    except AlreadyExistsError:
        return False
    return True


def table_from_events(events: list[Event]) -> Any:
    """A pyarrow Table of file columns (no `experiment`) from Event structs, in order."""
    import pyarrow as pa

    schema = arrow_schema()
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    for event in events:
        for name in schema.names:
            value = getattr(event, name)
            columns[name].append(list(value.items()) if name == "extra" else value)
    arrays = []
    for field in schema:
        if field.name == "dt":
            arrays.append(dt_array(columns["dt"]))
        else:
            arrays.append(pa.array(columns[field.name], type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def polars_scan_options() -> dict[str, Any]:
    """Keyword arguments for `polars.scan_parquet` over segment files of any age.

    The file schema is given (polars need not infer it from the first file's footer), and `dt`
    written in nanoseconds by stores before microseconds (DESIGN §14) is cast down on read, so old
    and new files scan together.
    """
    import polars as pl

    return {"schema": polars_schema(), "cast_options": pl.ScanCastOptions(datetime_cast="nanosecond-downcast")}
