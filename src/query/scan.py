"""Scanning a snapshot: one polars LazyFrame over the visible files, with hive partitions.

Local and S3 stores are scanned natively by polars over an explicit file list
(`hive_partitioning=True` with a pinned `hive_schema`, so a numeric-looking experiment name stays a
string and `date` is a Date). Other fsspec stores (`memory://`, ...) are read through fsspec.
"""

from __future__ import annotations

import io

import polars as pl

from eventlog import layout
from eventlog.event import arrow_schema
from eventlog.store import Store, open_store
from query.snapshot import Snapshot, take_snapshot

__all__ = ["HIVE_SCHEMA", "as_store", "empty_frame", "scan_snapshot", "scan_store"]

HIVE_SCHEMA = {"experiment": pl.String, "date": pl.Date}


def as_store(store: Store | str | None) -> Store:
    """A `Store` from a Store, a URI, or None ($EVENTLOG_URI, else ./eventlog)."""
    return store if isinstance(store, Store) else open_store(store)


def file_schema() -> pl.Schema:
    """The polars schema of a segment file (derived from the event's Arrow schema)."""
    empty = pl.from_arrow(arrow_schema().empty_table())
    assert isinstance(empty, pl.DataFrame)
    return empty.schema


def empty_frame() -> pl.LazyFrame:
    """A LazyFrame with the columns of a scan and no rows (for stores without data)."""
    schema = file_schema()
    return pl.LazyFrame(schema={**dict(schema), **HIVE_SCHEMA})


def scan_snapshot(snapshot: Snapshot) -> pl.LazyFrame:
    """A LazyFrame over every file of `snapshot`, with `experiment` and `date` columns."""
    store = snapshot.store
    if not snapshot.files:
        return empty_frame()
    if store.polars_native:
        return pl.scan_parquet(
            snapshot.urls,
            hive_partitioning=True,
            hive_schema=HIVE_SCHEMA,
            storage_options=store.polars_storage_options(),
            missing_columns="insert",
            extra_columns="ignore",
        )
    return pl.concat([_read_via_fsspec(store, path) for path in snapshot.paths], how="diagonal_relaxed").lazy()


def _read_via_fsspec(store: Store, path: str) -> pl.DataFrame:
    frame = pl.read_parquet(io.BytesIO(store.read(path)))
    date = next(p.split("=", 1)[1] for p in path.split("/") if p.startswith("date="))
    return frame.with_columns(
        pl.lit(layout.experiment_of(path), dtype=pl.String).alias("experiment"),
        pl.lit(date).str.to_date().alias("date"),
    )


def scan_store(store: Store | str | None, experiment: str = "*") -> pl.LazyFrame:
    """A LazyFrame over the current snapshot of the experiments matching `experiment`."""
    resolved = as_store(store)
    return scan_snapshot(take_snapshot(resolved, experiment))


