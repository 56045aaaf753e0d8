"""A long-lived reader reads each immutable file once: FileRowsCache through writes, compaction and gc."""

from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal

import eventlog
import query
from eventlog.compaction import collect_garbage, compact
from eventlog.core.store import open_store
from query.file_rows import FileRowsCache
from query.runs import FOLD_COLUMNS, fold_runs
from query.snapshot import take_snapshot
from testkit import log_loss_runs


def _fold(cache: FileRowsCache, uri: str) -> pl.DataFrame:
    rows = cache.rows(take_snapshot(open_store(uri), "sweep"))
    assert rows is not None
    return fold_runs(rows.lazy())


def _same_runs(cached: pl.DataFrame, uri: str) -> None:
    # `now` differs between the two folds only in running runs; these runs are all stopped
    assert_frame_equal(cached, query.runs(uri, "sweep"))


def test_each_file_is_read_once_and_dropped_when_no_snapshot_lists_it(any_uri: str) -> None:
    cache = FileRowsCache(FOLD_COLUMNS)
    with eventlog.open(any_uri) as log:
        exp = log.experiment("sweep")
        log_loss_runs(exp, runs=4, steps=5)  # two segments per run: a flush in the run, and its stop
        store = open_store(any_uri)
        first = len(take_snapshot(store, "sweep").files)
        _same_runs(_fold(cache, any_uri), any_uri)
        assert cache.files_read == first == 8

        log_loss_runs(exp, runs=2, steps=5)
        _same_runs(_fold(cache, any_uri), any_uri)
        assert cache.files_read == first + 4  # only the new segments were read

    compact(store, "sweep", min_lag=0, min_files=2)  # the 12 segments are covered by one compacted file
    compacted = take_snapshot(store, "sweep").files
    assert len(compacted) == 1
    table = _fold(cache, any_uri)
    _same_runs(table, any_uri)
    assert cache.files_read == 13 and table.height == 6
    rows = cache.rows(take_snapshot(store, "sweep"))
    assert rows is not None and rows.height == 6 * 7  # start, 5 losses, stop per run: covered rows are gone, none doubled

    collect_garbage(store, grace=0, force=True, dry_run=False)
    _same_runs(_fold(cache, any_uri), any_uri)
    assert cache.files_read == 13


def test_a_snapshot_too_big_to_hold_is_left_to_the_caller(local_uri: str) -> None:
    with eventlog.open(local_uri) as log:
        log_loss_runs(log.experiment("sweep"), runs=2, steps=5)
    cache = FileRowsCache(FOLD_COLUMNS, max_bytes=0)
    assert cache.rows(take_snapshot(open_store(local_uri), "sweep")) is None
    assert cache.files_read == 0
