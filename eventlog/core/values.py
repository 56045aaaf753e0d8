"""Turning what users pass to `log_*` into event fields: numbers, JSON text, steps, timestamps."""

from __future__ import annotations

import datetime as _dt
import json
import math
import operator
import time
from typing import Any

from eventlog.core.names import check_text

__all__ = ["MAX_DT_NS", "MIN_DT_NS", "event_value", "numeric_or_none", "to_dt_ns", "to_json", "to_number", "to_step"]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
#: The range of `dt` (the years 1678 to 2261): what 64-bit nanoseconds hold, which every engine reads.
MIN_DT_NS = (_dt.datetime(1678, 1, 1, tzinfo=_dt.UTC) - _EPOCH) // _dt.timedelta(microseconds=1) * 1_000
MAX_DT_NS = (_dt.datetime(2262, 1, 1, tzinfo=_dt.UTC) - _EPOCH) // _dt.timedelta(microseconds=1) * 1_000 - 1


def to_number(value: Any, *, key: str) -> float:
    """A metric value as a float: int, float, bool, numpy scalars and 0-d arrays/tensors are accepted.

    NaN and ±inf are kept as they are.

    Raises:
        TypeError: the value is not a number (the message names the key and the type).
    """
    if isinstance(value, (str, bytes, bytearray)) or value is None:
        raise TypeError(
            f"metric {key!r}: value must be a number (int, float, numpy scalar or 0-d tensor), "
            f"got {type(value).__name__} {value!r}; use log_param/log_event for non-numeric values"
        )
    shape = getattr(value, "shape", ())
    if shape not in ((), None) and tuple(shape) != ():
        raise TypeError(
            f"metric {key!r}: value must be a scalar, got an array of shape {tuple(shape)}; "
            "log one element or reduce it (e.g. .mean()) first"
        )
    try:
        return float(value)
    except OverflowError:
        raise TypeError(f"metric {key!r}: the value is too large for a float64 (at most about 1.8e308)") from None
    except (TypeError, ValueError) as exc:
        raise TypeError(f"metric {key!r}: value of type {type(value).__name__} cannot be converted to a float") from exc


def numeric_or_none(value: Any) -> float | None:
    """`value` as a float if it is a real number that fits a float64 (not bool, not a string), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)) or (type(value).__module__ == "numpy" and getattr(value, "shape", None) == ()):
        try:
            return float(value)
        except (TypeError, ValueError, OverflowError):  # an int past 1.8e308 stays exact as JSON text
            return None
    return None


def _default(obj: Any) -> Any:
    if not isinstance(obj, type):
        dump = getattr(obj, "model_dump", None)  # pydantic v2: JSON mode turns Path, UUID, ... into text
        if callable(dump):
            return dump(by_alias=True, mode="json")
        legacy = getattr(obj, "dict", None)  # pydantic v1
        if callable(legacy) and hasattr(obj, "__fields__"):
            return legacy(by_alias=True)
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return obj.tolist()
    if isinstance(obj, (_dt.datetime, _dt.date)):
        return obj.isoformat()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def to_json(value: Any, *, key: str) -> str:
    """JSON text of a non-numeric value (dicts, lists, strings, bools, pydantic models, numpy arrays).

    NaN and inf inside containers are written as the JSON extensions NaN/Infinity.

    Raises:
        TypeError: the value cannot be encoded as JSON; log it as an artifact instead.
    """
    try:
        text = json.dumps(value, default=_default, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{key!r}: value of type {type(value).__name__} is neither a number nor JSON-encodable; "
            "store it with log_artifact(obj, name) instead"
        ) from exc
    return check_text(text, f"the value of {key!r}")


def event_value(value: Any, *, key: str, event: str) -> tuple[float | None, str | None]:
    """The `value` and `value_json` fields of an event holding `value`.

    Numbers go into `value`; anything else into `value_json` as JSON text. An integer param keeps
    its JSON text too (`100` → `(100.0, "100")`), so that `runs()` shows it as an integer.

    Raises:
        TypeError: the value is neither a number nor JSON-encodable.
    """
    number = numeric_or_none(value)
    if number is None:
        return None, to_json(value, key=key)
    if event == "param" and not isinstance(value, bool) and (
        isinstance(value, int) or getattr(getattr(value, "dtype", None), "kind", "") in ("i", "u")
    ):
        return number, str(int(value))
    return number, None


def to_step(step: Any) -> int | None:
    """A step as an int (numpy ints and integral floats accepted), or None.

    Raises:
        TypeError: the step is not an integer.
        ValueError: the step does not fit in 64 signed bits.
    """
    if step is None:
        return None
    if isinstance(step, bool):
        raise TypeError(f"step must be an int or None, got bool {step!r}")
    if isinstance(step, float):
        if not (math.isfinite(step) and step.is_integer()):
            raise TypeError(f"step must be an int or None, got float {step!r}")
        value = int(step)
    else:
        try:
            value = operator.index(step)
        except TypeError as exc:
            raise TypeError(f"step must be an int or None, got {type(step).__name__} {step!r}") from exc
    if not -(2**63) <= value < 2**63:
        raise ValueError(f"step {value} is out of range: steps are 64-bit signed integers")
    return value


def to_dt_ns(dt: Any) -> int:
    """A timestamp in ns since the epoch (UTC): now for None; a datetime (naive means UTC, as in
    omega-ml), int nanoseconds, or float seconds (as TensorBoard's wall_time).

    Raises:
        TypeError: `dt` is of another type, or a float that is NaN or infinite.
        ValueError: `dt` lies outside the years 1678-2261, which the `dt` column holds.
    """
    if dt is None:
        return time.time_ns()
    if isinstance(dt, _dt.datetime):
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=_dt.UTC)
        delta = dt - _EPOCH
        ns = (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1_000
    elif isinstance(dt, bool):
        raise TypeError("dt must be a datetime, int nanoseconds or float seconds, got bool")
    elif isinstance(dt, int):
        ns = dt
    elif isinstance(dt, float):
        if not math.isfinite(dt):
            raise TypeError(f"dt must be a datetime, int nanoseconds or float seconds, got {dt!r}")
        # a finite float past ~1.8e299 s overflows to inf when scaled: it is out of range like any other
        ns = int(dt * 1e9) if abs(dt) < 1e18 else MAX_DT_NS + 1
    elif hasattr(dt, "to_pydatetime"):  # pandas Timestamp
        return to_dt_ns(dt.to_pydatetime())
    else:
        raise TypeError(f"dt must be a datetime, int nanoseconds or float seconds, got {type(dt).__name__} {dt!r}")
    if not MIN_DT_NS <= ns <= MAX_DT_NS:
        raise ValueError(
            f"dt {dt!r} is outside the range the dt column holds (the years 1678-2261); "
            "pass a datetime, int nanoseconds since 1970 or float seconds since 1970"
        )
    return ns
