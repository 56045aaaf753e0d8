"""Frames and values as the dashboard's JSON: compact, and readable by JavaScript as they are.

A table travels as `{"columns": [...], "types": [...], "rows": [[...], ...]}`: row arrays, not
one object per row, so a column name is sent once rather than once per cell. Times become epoch
milliseconds (what `new Date(ms)` takes), NaN and ±inf become null (JSON has neither), and
msgspec encodes (several times faster than the standard library on wide tables).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import polars as pl

__all__ = ["decode_json_text", "encode", "frame_payload", "type_name"]

_encoder = msgspec.json.Encoder()


def encode(payload: Any) -> bytes:
    """`payload` as JSON bytes (NaN and ±inf as null).

    Args:
        payload: dicts, lists, strings, numbers, None (and what msgspec encodes natively).

    Returns:
        UTF-8 JSON.
    """
    return _encoder.encode(payload)


def type_name(dtype: pl.DataType) -> str:
    """The kind of a column for the browser: `number`, `time`, `bool` or `text`.

    Args:
        dtype: a polars data type.

    Returns:
        One of the four names.
    """
    if dtype.is_numeric():
        return "number"
    if isinstance(dtype, pl.Datetime):
        return "time"
    if dtype == pl.Boolean:
        return "bool"
    return "text"


def frame_payload(frame: pl.DataFrame) -> dict[str, Any]:
    """A frame as `{"columns", "types", "rows"}` with times in epoch milliseconds.

    Args:
        frame: any DataFrame; nested columns (maps, lists, structs) are sent as JSON text.

    Returns:
        The payload (encode it with `encode`).
    """
    converted = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            converted.append((col.dt.epoch("us") / 1000).alias(name))
        elif isinstance(dtype, (pl.List, pl.Struct, pl.Array)) or str(dtype).startswith("Map"):
            converted.append(col.map_elements(lambda v: json.dumps(v, default=str), return_dtype=pl.String).alias(name))
        elif isinstance(dtype, (pl.Date, pl.Duration, pl.Time, pl.Decimal)):
            converted.append(col.cast(pl.String).alias(name))
        else:
            converted.append(col)
    out = frame.select(converted) if converted else frame
    return {
        "columns": frame.columns,
        "types": [type_name(t) for t in frame.schema.values()],
        "rows": out.rows(),
    }


def decode_json_text(text: str | None) -> Any:
    """A `value_json` cell as a value (the text itself if it is not JSON; None stays None).

    Args:
        text: the JSON text of an event's value.

    Returns:
        The decoded value.
    """
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
