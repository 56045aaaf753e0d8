"""The merge's integer sort keys order rows exactly as pyarrow sorts the columns, and drop only duplicate ids."""

from __future__ import annotations

import io
import random
from itertools import pairwise

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from eventlog.compaction.merge import SORT_KEYS, conform, merge_tables
from eventlog.core.event import arrow_schema


def _table(rows: list[dict[str, object]]) -> pa.Table:
    schema = arrow_schema()
    columns = {name: [row.get(name) for row in rows] for name in schema.names}
    columns["extra"] = [[] for _ in rows]
    arrays = [
        pa.array(columns["dt"], pa.int64()).cast(field.type) if field.name == "dt" else pa.array(columns[field.name], field.type)
        for field in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def _random_rows(rng: random.Random, n: int) -> list[dict[str, object]]:
    rows = []
    for _ in range(n):
        writer = rng.choice(["w10", "w2", "w1", None])
        rows.append({
            "run": rng.choice([1, 2, None]),
            "step": rng.choice([0, 1, 2, -5, None]),
            "event": "metric",
            "key": rng.choice(["k10", "k2", "a/b", "", None]),
            "value": rng.random(),
            "dt": rng.randrange(5),
            "writer": writer,
            "seq": rng.randrange(4),
        })
    return rows


def _reference(table: pa.Table) -> list[tuple[object, ...]]:
    """pyarrow's sort on the string columns, then drop rows whose valid (writer, seq) repeats the previous row's."""
    order = pc.sort_indices(table, sort_keys=[(key, "ascending", "at_start") for key in SORT_KEYS])
    rows = list(zip(*(table.take(order).column(k).to_pylist() for k in (*SORT_KEYS, "value")), strict=True))
    kept = rows[:1]
    for previous, row in pairwise(rows):
        if row[4] is None or row[5] is None or (row[4], row[5]) != (previous[4], previous[5]):
            kept.append(row)
    return kept


@pytest.mark.parametrize("seed", range(20))
def test_merge_sorts_like_pyarrow_and_drops_only_duplicate_ids(seed: int) -> None:
    rng = random.Random(seed)
    rows = _random_rows(rng, rng.randrange(1, 60))
    duplicates = [dict(r) for r in rng.sample(rows, k=min(5, len(rows)))]
    table = _table(rows + duplicates)
    halves = [conform(table.slice(0, len(rows))), conform(table.slice(len(rows)))]
    data, events, runs = merge_tables(halves, ["a", "b"])
    merged = pq.read_table(io.BytesIO(data))
    run_column = merged.column("run").to_pylist()
    assert runs == (None if None in run_column else (min(run_column), max(run_column)))
    got = list(zip(*(merged.column(k).to_pylist() for k in (*SORT_KEYS, "value")), strict=True))
    expected = _reference(table)
    assert events == len(expected)
    # rows whose ids are null are not de-duplicated; identical ones may come in either order
    assert sorted(map(repr, got)) == sorted(map(repr, expected))
    assert [r[:4] for r in got] == [r[:4] for r in expected]
