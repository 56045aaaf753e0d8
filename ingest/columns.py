"""Arrow arrays for the write path, built from numpy arrays and Python lists without `pa.array`.

Why not `pa.array`: its first call imports pandas when pandas is installed (pyarrow checks every
input for pandas types), which costs ~40 MB of resident memory and ~0.5 s, inside the first flush
of every training process, holding the GIL the training loop needs. Everything here wraps numpy
memory with `pa.Array.from_buffers` instead; numbers are not copied.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["numeric", "numeric_or_null", "string_map", "strings"]


def numeric(values: np.ndarray[Any, Any], arrow_type: Any = None) -> Any:
    """A pyarrow array over a 1-d numeric numpy array's memory (no nulls, no copy if contiguous).

    Args:
        values: int or float numpy array.
        arrow_type: the Arrow type to view the memory as (same width); default from the dtype.
    """
    if not values.flags.c_contiguous:
        values = np.ascontiguousarray(values)
    arrow_type = _arrow_type_of(values.dtype) if arrow_type is None else arrow_type
    return pa.Array.from_buffers(arrow_type, len(values), [None, pa.py_buffer(values)])


@functools.cache
def _arrow_type_of(dtype: np.dtype[Any]) -> Any:
    return pa.from_numpy_dtype(dtype)


def numeric_or_null(values: Sequence[float | int | None], dtype: Any) -> Any:
    """A pyarrow array of `values` as numpy `dtype` (int64 or float64), None becoming null.

    Raises:
        OverflowError: an int does not fit `dtype`.
    """
    if None not in values:  # the common case: one pass in C
        return numeric(np.fromiter(values, dtype=dtype, count=len(values)))
    if values.count(None) == len(values):  # run events (start, stop): no value at all
        return pa.nulls(len(values), _arrow_type_of(np.dtype(dtype)))
    missing = np.array([v is None for v in values], dtype=bool)
    filled = np.array([0 if v is None else v for v in values], dtype=dtype)
    return pa.Array.from_buffers(_arrow_type_of(filled.dtype), len(filled), [_validity(missing), pa.py_buffer(filled)])


def strings(values: Sequence[str | None]) -> Any:
    """A pyarrow string array of `values`, None becoming null.

    Raises:
        UnicodeEncodeError: a value is not valid UTF-8 (a lone surrogate).
    """
    if None in values:
        if values.count(None) == len(values):  # no text at all (metric and run events)
            return pa.nulls(len(values), pa.string())
        validity = _validity(np.array([v is None for v in values], dtype=bool))
        present: Sequence[str] = ["" if v is None else v for v in values]
    else:
        validity, present = None, values  # type: ignore[assignment]
    joined = "".join(present)
    data = joined.encode("utf-8")
    if len(data) == len(joined):  # ASCII (any other character takes 2+ bytes): lengths in characters are in bytes
        lengths = np.fromiter(map(len, present), dtype=np.int64, count=len(present))
    else:
        encoded = [v.encode("utf-8") for v in present]
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    return pa.StringArray.from_buffers(len(present), pa.py_buffer(_offsets(lengths)), pa.py_buffer(data), validity)


def string_map(rows: Sequence[Sequence[tuple[str, str]]], map_type: Any) -> Any:
    """A pyarrow map<string, string> array with one map per row, from each row's (key, value) pairs."""
    offsets = _offsets(np.fromiter(map(len, rows), dtype=np.int64, count=len(rows)))
    keys = strings([key for row in rows for key, _ in row])
    items = strings([item for row in rows for _, item in row])
    return pa.MapArray.from_arrays(numeric(offsets), keys, items, type=map_type)


def _offsets(lengths: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Arrow int32 offsets (0, then running totals) from item lengths."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    offsets[1:] = np.cumsum(lengths)
    return offsets


def _validity(missing: np.ndarray[Any, Any]) -> Any:
    """An Arrow validity bitmap (1 = present, least significant bit first) from a bool mask of nulls."""
    return pa.py_buffer(np.packbits(~missing, bitorder="little"))
