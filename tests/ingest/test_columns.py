"""The write path's Arrow builders give the same arrays as `pa.array`, and never import pandas."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

from ingest.columns import numeric, numeric_or_null, string_map, strings

MAP = pa.map_(pa.string(), pa.string())


def test_numeric_wraps_numpy_memory() -> None:
    assert numeric(np.array([1.5, -2.0])).equals(pa.array([1.5, -2.0]))
    assert numeric(np.arange(5, dtype=np.int32)[::2]).to_pylist() == [0, 2, 4]  # non-contiguous input
    stamps = numeric(np.array([0, 86_400 * 10**9], dtype=np.int64), pa.timestamp("ns", tz="UTC"))
    assert stamps.type == pa.timestamp("ns", tz="UTC") and stamps[1].value == 86_400 * 10**9


@pytest.mark.parametrize(
    ("values", "dtype", "arrow_type"),
    [
        ([1.0, None, 3.5], np.float64, pa.float64()),
        ([None, None], np.float64, pa.float64()),
        ([4, None, -(2**63), 2**63 - 1], np.int64, pa.int64()),
        ([7, 8], np.int64, pa.int64()),
        ([], np.int64, pa.int64()),
    ],
)
def test_numeric_or_null_matches_pa_array(values: list, dtype: type, arrow_type: pa.DataType) -> None:
    built = numeric_or_null(values, dtype)
    assert built.equals(pa.array(values, type=arrow_type))
    assert built.null_count == sum(v is None for v in values)


def test_numeric_or_null_rejects_ints_outside_the_type() -> None:
    with pytest.raises(OverflowError):
        numeric_or_null([1, None, 2**64], np.int64)


def test_strings_match_pa_array() -> None:
    values = ["metric", None, "", "train/loss", "日本語 ✓", None]
    built = strings(values)
    assert built.equals(pa.array(values, type=pa.string()))
    assert strings([]).equals(pa.array([], type=pa.string()))
    assert strings([None, None]).equals(pa.array([None, None], type=pa.string()))  # no text at all
    ascii_only = ["a", "", "train/loss"]  # byte lengths come from character lengths
    assert strings(ascii_only).equals(pa.array(ascii_only, type=pa.string()))
    mixed = ["é", "ab", "日本", ""]
    assert strings(mixed).to_pylist() == mixed


def test_strings_reject_what_utf8_cannot_encode() -> None:
    with pytest.raises(UnicodeEncodeError):
        strings(["ok", "caf\udce9"])


def test_string_map_matches_pa_array() -> None:
    rows = [(("a", "1"), ("b", "ü")), (), (("tag", "x"),)]
    built = string_map(rows, MAP)
    assert built.equals(pa.array([list(r) for r in rows], type=MAP))
    assert built.to_pylist() == [[("a", "1"), ("b", "ü")], [], [("tag", "x")]]


def test_logging_and_flushing_never_import_pandas(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # pa.array would import pandas (~40 MB, ~0.5 s) inside the first flush of a training process
    script = f"""
import sys, eventlog
log = eventlog.open({str(tmp_path)!r})
with log.experiment("e") as exp:
    exp.log_metric("a", 1.0, step=1)
    exp.log_metric("a", 2.0)
    exp.log_metrics({{"a": 1.0, "b": 2.0}}, step=2)
    exp.log_param("p", {{"x": [1, 2]}})
    exp.log_metric("c", 1.5, step=3, tag="t")
log.close()
print("pandas" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "False"
