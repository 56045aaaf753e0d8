"""The in-memory write buffer: where `log_*` calls put events, and how they become segments.

Events wait here as rows in three append-only lists (appending one tuple to a list is atomic
under the GIL, so the hot path needs no lock):

- scalar rows `(slot, value, step, dt_ns)`: one `log_metric` call;
- block rows `(keyset, values: array('d'), step, dt_ns)`: one `log_metrics` call (many keys);
- generic rows `(slot, value, value_json, step, dt_ns)`: everything else (params, start/stop, ...).

A *slot* is a small int standing for (experiment, run, event kind, key, extras), registered once
per distinct combination; rows carry only the int. `drain()` takes every complete row, turns the
rows into Arrow columns with numpy (no per-event Python work beyond one pass per column), splits
them by partition (experiment, UTC date), numbers them with the writer's sequence and encodes one
Parquet segment per partition.
"""

from __future__ import annotations

import logging
import threading
from array import array
from operator import itemgetter
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa

from eventlog.event import arrow_schema
from eventlog.identity import Identity
from eventlog.layout import date_of_ns
from eventlog.segment import Segment, encode_table

__all__ = ["Slot", "WriteBuffer"]

_log = logging.getLogger("eventlog.buffer")

_NS_PER_DAY = 86_400 * 10**9
_MAP_TYPE = pa.map_(pa.string(), pa.string())


class Slot(NamedTuple):
    """What a slot number stands for."""

    experiment: str
    run: int
    event: str
    key: str
    extra: tuple[tuple[str, str], ...]


class _SlotColumns(NamedTuple):
    """Per-slot columns, indexed by slot number; rebuilt only when slots were registered."""

    slots: int  # how many slots these columns cover
    experiments: list[str]  # the experiment of each slot
    exp_index: np.ndarray[Any, Any]  # each slot's experiment as a small int (for partitioning)
    run: Any  # pa.int64
    event: Any  # pa.string
    key: Any  # pa.string
    extra: Any  # pa map<string, string>, or None when no slot has extras


class _Part(NamedTuple):
    slot: Any  # numpy int32
    value: Any  # pa.float64
    value_json: Any  # pa.string
    step: Any  # pa.int64
    dt: Any  # numpy int64


class WriteBuffer:
    """Pending events of one writer process, drained into segments by the flusher.

    `scalar_rows`, `block_rows` and `generic_rows` are appended to directly by the hot path.
    """

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.scalar_rows: list[tuple[int, float, int | None, int]] = []
        self.block_rows: list[tuple[int, array[float], int | None, int]] = []
        self.generic_rows: list[tuple[int, float | None, str | None, int | None, int]] = []
        self.next_seq = 0
        self._slots: list[Slot] = []
        self._slot_ids: dict[Slot, int] = {}
        self._keysets: list[np.ndarray[Any, Any]] = []
        self._keyset_ids: dict[tuple[int, ...], int] = {}
        self._slot_columns: _SlotColumns | None = None
        self._lock = threading.RLock()  # re-entrant: a SIGTERM handler may register a slot mid-registration

    # -- registration (slow path, rare) ---------------------------------------------------------
    def slot(self, experiment: str, run: int, event: str, key: str, extra: dict[str, str] | None = None) -> int:
        """The slot number of (experiment, run, event, key, extra), registering it if new."""
        entry = Slot(experiment, run, event, key, tuple(sorted(extra.items())) if extra else ())
        found = self._slot_ids.get(entry)
        if found is not None:
            return found
        with self._lock:
            found = self._slot_ids.get(entry)
            if found is None:
                found = len(self._slots)
                self._slots.append(entry)
                self._slot_ids[entry] = found
            return found

    def keyset(self, slots: tuple[int, ...]) -> int:
        """The id of a tuple of slots (the keys of one `log_metrics` mapping), registering it if new."""
        found = self._keyset_ids.get(slots)
        if found is not None:
            return found
        with self._lock:
            found = self._keyset_ids.get(slots)
            if found is None:
                found = len(self._keysets)
                self._keysets.append(np.asarray(slots, dtype=np.int32))
                self._keyset_ids[slots] = found
            return found

    def pending(self) -> int:
        """How many events wait in the buffer (approximate while others append)."""
        # O(1): block rows are counted as (rows x size of the newest row), since the buffer is
        # checked on the hot path and summing every row's length made log_metrics quadratic.
        blocks = self.block_rows
        block_events = len(blocks) * len(blocks[-1][1]) if blocks else 0
        return len(self.scalar_rows) + len(self.generic_rows) + block_events

    # -- draining (the flusher's thread) ----------------------------------------------------------
    def drain(self) -> list[Segment]:
        """Take every complete row out of the buffer and encode it as segments (one per partition).

        Returns:
            The encoded segments, in sequence order; [] if nothing was pending.
        """
        parts = [
            part
            for part in (
                self._scalar_part(_take(self.scalar_rows)),
                self._block_part(_take(self.block_rows)),
                self._generic_part(_take(self.generic_rows)),
            )
            if part is not None
        ]
        if not parts:
            return []
        slots = np.concatenate([p.slot for p in parts])
        dts = np.concatenate([p.dt for p in parts])
        columns = {
            "value": pa.concat_arrays([p.value for p in parts]),
            "value_json": pa.concat_arrays([p.value_json for p in parts]),
            "step": pa.concat_arrays([p.step for p in parts]),
        }
        return self._segments(slots, dts, columns)

    def _scalar_part(self, rows: list[tuple[int, float, int | None, int]]) -> _Part | None:
        if not rows:
            return None
        n = len(rows)
        return _Part(
            slot=np.fromiter(map(itemgetter(0), rows), dtype=np.int32, count=n),
            value=pa.array(np.fromiter(map(itemgetter(1), rows), dtype=np.float64, count=n)),
            value_json=pa.nulls(n, pa.string()),
            step=_steps(list(map(itemgetter(2), rows))),
            dt=np.fromiter(map(itemgetter(3), rows), dtype=np.int64, count=n),
        )

    def _block_part(self, rows: list[tuple[int, array[float], int | None, int]]) -> _Part | None:
        if not rows:
            return None
        lengths = np.fromiter((len(row[1]) for row in rows), dtype=np.int64, count=len(rows))
        keyset_ids = [row[0] for row in rows]
        if len(set(keyset_ids)) == 1:
            slots = np.tile(self._keysets[keyset_ids[0]], len(rows))
        else:
            slots = np.concatenate([self._keysets[k] for k in keyset_ids])
        values = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float64)
        steps = _steps([row[2] for row in rows])
        step_index = np.repeat(np.arange(len(rows)), lengths)
        return _Part(
            slot=slots,
            value=pa.array(values),
            value_json=pa.nulls(len(values), pa.string()),
            step=steps.take(pa.array(step_index)),
            dt=np.repeat(np.fromiter((row[3] for row in rows), dtype=np.int64, count=len(rows)), lengths),
        )

    def _generic_part(self, rows: list[tuple[int, float | None, str | None, int | None, int]]) -> _Part | None:
        if not rows:
            return None
        return _Part(
            slot=np.fromiter((row[0] for row in rows), dtype=np.int32, count=len(rows)),
            value=pa.array([row[1] for row in rows], type=pa.float64()),
            value_json=pa.array([row[2] for row in rows], type=pa.string()),
            step=pa.array([row[3] for row in rows], type=pa.int64()),
            dt=np.fromiter((row[4] for row in rows), dtype=np.int64, count=len(rows)),
        )

    def _columns_of_slots(self) -> _SlotColumns:
        # Slots only ever grow (one per run x key), so these are rebuilt only after a registration,
        # not on every drain and partition.
        count = len(self._slots)
        cached = self._slot_columns
        if cached is not None and cached.slots == count:
            return cached
        table = self._slots[:count]
        names = sorted({s.experiment for s in table})
        index = {name: i for i, name in enumerate(names)}
        has_extras = any(s.extra for s in table)
        self._slot_columns = _SlotColumns(
            slots=count,
            experiments=[s.experiment for s in table],
            exp_index=np.fromiter((index[s.experiment] for s in table), dtype=np.int64, count=count),
            run=pa.array(np.fromiter((s.run for s in table), dtype=np.int64, count=count)),
            event=pa.array([s.event for s in table]),
            key=pa.array([s.key for s in table]),
            extra=pa.array([list(s.extra) for s in table], type=_MAP_TYPE) if has_extras else None,
        )
        return self._slot_columns

    def _segments(self, slots: np.ndarray[Any, Any], dts: np.ndarray[Any, Any], columns: dict[str, Any]) -> list[Segment]:
        by_slot = self._columns_of_slots()
        days = dts // _NS_PER_DAY
        group_key = by_slot.exp_index[slots] * 1_000_000 + (days - days.min())
        groups: list[Any]
        if group_key.min() == group_key.max():
            groups = [None]
        else:
            order = np.argsort(group_key, kind="stable")
            bounds = np.flatnonzero(np.diff(group_key[order])) + 1
            groups = np.split(order, bounds)
        segments = []
        for rows in groups:
            g_slots = slots if rows is None else slots[rows]
            g_dts = dts if rows is None else dts[rows]
            g_columns = columns if rows is None else {k: v.take(pa.array(rows)) for k, v in columns.items()}
            segments.append(self._encode(g_slots, g_dts, g_columns, by_slot))
        return segments

    def _encode(
        self,
        slots: np.ndarray[Any, Any],
        dts: np.ndarray[Any, Any],
        columns: dict[str, Any],
        by_slot: _SlotColumns,
    ) -> Segment:
        n = len(slots)
        first_seq = self.next_seq
        self.next_seq += n
        ident = self.identity
        indices = pa.array(slots, type=pa.int32())
        zeros = pa.array(np.zeros(n, dtype=np.int32))
        schema = arrow_schema()
        arrays = {
            "run": by_slot.run.take(indices),
            "step": columns["step"],
            "event": pa.DictionaryArray.from_arrays(indices, by_slot.event),
            "key": pa.DictionaryArray.from_arrays(indices, by_slot.key),
            "value": columns["value"],
            "value_json": columns["value_json"],
            "dt": pa.array(dts).view(pa.timestamp("ns", tz="UTC")),
            "node": pa.DictionaryArray.from_arrays(zeros, pa.array([ident.node])),
            "userid": pa.DictionaryArray.from_arrays(zeros, pa.array([ident.userid])),
            "rank": pa.nulls(n, pa.int64()) if ident.rank is None else pa.array(np.full(n, ident.rank, dtype=np.int64)),
            "writer": pa.DictionaryArray.from_arrays(zeros, pa.array([ident.writer])),
            "seq": pa.array(np.arange(first_seq, first_seq + n, dtype=np.int64)),
            "extra": _no_extras(n) if by_slot.extra is None else by_slot.extra.take(indices),
        }
        table = pa.table([arrays[name] for name in schema.names], names=schema.names)
        return Segment(
            experiment=by_slot.experiments[int(slots[0])],
            date=date_of_ns(int(dts[0])),
            writer=ident.writer,
            first_seq=first_seq,
            count=n,
            data=encode_table(table),
        )


def _take(rows: list[Any]) -> list[Any]:
    """Remove and return the first len(rows) rows; rows appended meanwhile stay for the next drain."""
    n = len(rows)
    taken = rows[:n]
    del rows[:n]
    return taken


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _steps(steps: list[int | None]) -> Any:
    try:
        return pa.array(np.fromiter(steps, dtype=np.int64, count=len(steps)))
    except (TypeError, OverflowError):  # some steps are None, or out of range
        pass
    try:
        return pa.array(steps, type=pa.int64())  # None steps: still one pass in C
    except (OverflowError, pa.ArrowInvalid):  # the hot path does not range-check; one step must not fail the batch
        pass
    in_range = [s if s is None or _INT64_MIN <= s <= _INT64_MAX else None for s in steps]
    if any(s is not None and s is not i for s, i in zip(steps, in_range, strict=True)):
        _log.warning("eventlog: steps outside the 64-bit range were stored as null (their events are kept)")
    return pa.array(in_range, type=pa.int64())


def _no_extras(n: int) -> Any:
    """A map column of `n` empty maps, built without a Python object per row."""
    offsets = pa.array(np.zeros(n + 1, dtype=np.int32))
    return pa.MapArray.from_arrays(offsets, pa.array([], pa.string()), pa.array([], pa.string()), type=_MAP_TYPE)
