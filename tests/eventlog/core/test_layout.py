"""Where files live: raw segment names state their first sequence number and their runs."""

from __future__ import annotations

import pyarrow as pa
import pytest

from eventlog.core import layout, manifest
from eventlog.core.manifest import Manifest, covered_set
from eventlog.core.segment import run_range


def test_a_segment_path_names_its_first_seq_and_its_run_range() -> None:
    path = layout.segment_path("mnist", "2026-12-04", "w1", 42, (3, 17))
    assert path == "seg/experiment=mnist/date=2026-12-04/w1/00000000000000000042.runs-3-17.parquet"
    assert layout.segment_runs(path) == (3, 17)
    legacy = layout.segment_path("mnist", "2026-12-04", "w1", 42)
    assert legacy.endswith("/w1/00000000000000000042.parquet")
    assert layout.segment_runs(legacy) is None  # written before ranges were named: may hold any run


@pytest.mark.parametrize("runs", [(5, 3), (-1, 2)])
def test_a_segment_path_refuses_a_run_range_that_is_not_one(runs: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="run range"):
        layout.segment_path("mnist", "2026-12-04", "w1", 0, runs)


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("00000000000000000007.parquet", (7, None)),
        ("00000000000000000007.runs-1-1.parquet", (7, (1, 1))),
        ("00000000000000000007.runs-2-1.parquet", None),  # a range the wrong way round
        ("00000000000000000007.runs-1.parquet", None),
        ("0000000000000000000٧.parquet", None),  # a non-ASCII digit
        ("00000000000000000007.parquet.tmp", None),
        ("x.parquet", None),
    ],
)
def test_segment_names_parse_strictly(name: str, parsed: object) -> None:
    assert layout.parse_segment_name(name) == parsed


def test_a_compacted_files_name_states_no_run_range() -> None:
    assert layout.segment_runs("cmp/experiment=a/date=2026-12-04/00000000000000000001.parquet") is None


def test_the_run_range_is_not_part_of_a_segments_id() -> None:
    """A tombstone of a segment covers it under either name (a spool written before the ranges)."""
    named = layout.segment_path("a", "2026-12-04", "w1", 9, (1, 2))
    legacy = layout.segment_path("a", "2026-12-04", "w1", 9)
    assert manifest.segment_id(named) == manifest.segment_id(legacy) == ("experiment=a/date=2026-12-04", "w1", 9)
    covered = covered_set(Manifest().evolve(add_covered=[manifest.segment_id(legacy)]))  # type: ignore[list-item]
    assert named in covered
    assert layout.segment_path("a", "2026-12-04", "w1", 10, (1, 2)) not in covered


@pytest.mark.parametrize(
    ("runs", "expected"),
    [([4, 2, 9], (2, 9)), ([7], (7, 7)), ([], None), ([None, 3], None), ([-1, 3], None), (pa.array([0, 0]), (0, 0))],
)
def test_a_segments_run_range_comes_from_its_run_column(runs: object, expected: object) -> None:
    column = runs if isinstance(runs, pa.Array) else pa.array(runs, pa.int64())
    assert run_range(column) == expected
    assert run_range(pa.chunked_array([column])) == expected
