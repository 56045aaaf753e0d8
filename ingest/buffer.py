"""The in-memory write buffer: where `log_*` calls put events, and how they become segments.

Events wait here in three append-only lists (appending to or extending a list by a tuple is atomic
under the GIL, so the hot path needs no lock):

- scalar rows, flat: `slot, value, step, dt_ns` per `log_metric` call. Flat rather than one tuple
  per event because the drain then takes each column with one C-speed slice (`rows[1::4]`) instead
  of a Python-level pass, and frees no tuples: measured 0.25 µs → 0.13 µs per event of drain work,
  done while holding the GIL that the training loop needs;
- block rows `(keyset, values, step, dt_ns)`: one `log_metrics` call (many keys), the values
  packed as native float64 bytes (`struct.pack`);
- generic rows `(slot, value, value_json, step, dt_ns[, extras])`: everything else (params,
  start/stop, ...). Per-event extras ride in the row (a tuple of name/value pairs, over the
  slot's run-level extras), not in the slot: `log_metric(..., sample_id=str(i))` would otherwise
  register a slot per distinct value that is never freed (467 MB against 122 MB at 500k events).

A *slot* is a small int standing for (experiment, run, event kind, key, extras), registered once
per distinct combination in the buffer's `SlotRegistry` (`ingest.slots`); rows carry only the int. When `max_events` wait, the writer's thread
calls `seal()`: it takes every complete row, turns the rows into Arrow columns with numpy (no
per-event Python work beyond one pass per column), splits them by partition (experiment, UTC
date) and numbers them with the writer's sequence. `drain()` (the flusher's thread) seals what is
left, then encodes one Parquet segment per partition.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterable
from itertools import chain
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa

from eventlog.core.event import DT_UNIT, arrow_schema
from eventlog.core.identity import Identity
from eventlog.core.layout import date_of_ns
from eventlog.core.segment import Segment, encode_segment
from ingest.columns import numeric, numeric_or_null, string_map, strings
from ingest.quarantine import Quarantine
from ingest.slots import Slot, SlotRegistry, SlotTable
from ingest.tensors import to_floats

__all__ = ["SCALAR_WIDTH", "Slot", "WriteBuffer"]

_log = logging.getLogger("eventlog.buffer")

SCALAR_WIDTH = 4  # items per event in `WriteBuffer.scalar_rows`: slot, value, step, dt_ns
_NS_PER_DAY = 86_400 * 10**9
_FLOAT64_BYTES = 8
_MAP_TYPE = pa.map_(pa.string(), pa.string())
_DT_TYPE = pa.timestamp(DT_UNIT, tz="UTC")


class _Sealed(NamedTuple):
    """Events of one partition, sealed into an Arrow table (all file columns, seq numbered)."""

    experiment: str
    date: str
    first_seq: int
    table: Any  # pa.Table in arrow_schema() order


class _Part(NamedTuple):
    slot: Any  # numpy int32
    value: Any  # pa.float64
    value_json: Any  # pa.string
    step: Any  # pa.int64
    dt: Any  # numpy int64
    extra: Any = None  # pa map<string, string> when rows carry per-event extras, else None (the slots' own)


class WriteBuffer:
    """Pending events of one writer process, drained into segments by the flusher.

    `scalar_rows`, `block_rows` and `generic_rows` are appended to directly by the hot path.
    """

    def __init__(self, identity: Identity, quarantine: Quarantine | None = None) -> None:
        self.identity = identity
        # the one-value dictionaries of node, userid and writer, built once (a short run's flush
        # seals a tiny table, where each array built costs as much as its rows)
        self._identity_strings = [strings([identity.node]), strings([identity.userid]), strings([identity.writer])]
        # ... and their columns for tables of up to _SHARED_IDENTITY_ROWS rows, sliced (zero-copy)
        zeros = numeric(np.zeros(_SHARED_IDENTITY_ROWS, dtype=np.int32))
        self._identity_columns = [pa.DictionaryArray.from_arrays(zeros, one) for one in self._identity_strings]
        self.quarantine = quarantine  # where rows that cannot be encoded go (DESIGN §11), if anywhere
        self.scalar_rows: list[Any] = []  # flat: SCALAR_WIDTH items per event
        self.block_rows: list[tuple[int, bytes, int | None, int]] = []  # values: native float64s
        self.generic_rows: list[tuple[Any, ...]] = []  # (slot, value, value_json, step, dt_ns[, extras])
        self.next_seq = 0
        self.registry = SlotRegistry()
        self.slot = self.registry.slot  # registration: the slow path's, and tests'
        self.keyset = self.registry.keyset
        self._sealed: list[_Sealed] = []
        self._sealed_events = 0
        self.deferred = 0  # tensors in scalar_rows left for the flusher to convert (ingest.tensors)
        self._lock = threading.RLock()  # re-entrant: seal() runs inside drain()

    def add_metrics(self, rows: Iterable[tuple[int, float, int | None, int]]) -> None:
        """Append `(slot, value, step, dt_ns)` metric rows (the hot path extends `scalar_rows` itself)."""
        self.scalar_rows.extend(list(chain.from_iterable(rows)))  # one atomic extend: a drain never splits a row

    def pending(self) -> int:
        """How many events wait in the buffer, sealed or not (approximate while others append)."""
        # O(1): block rows are counted as (rows x size of the newest row), since the buffer is
        # checked on the hot path and summing every row's length made log_metrics quadratic.
        blocks = self.block_rows
        block_events = len(blocks) * (len(blocks[-1][1]) // _FLOAT64_BYTES) if blocks else 0
        return self._sealed_events + len(self.scalar_rows) // SCALAR_WIDTH + len(self.generic_rows) + block_events

    def seal(self) -> None:
        """Move every pending row out of the live lists into Arrow tables, ready for the next drain.

        Called by the writer's thread when the buffer reaches `max_events`, and by `drain()`. Why
        on the writer's thread and not only in the flusher: this work needs the GIL wherever it
        runs, so the training loop pays for it either way. Done here,
        (1) the live lists drop below the threshold at once (before, every `log_*` call took the
            slow `full()` branch until the flusher got the GIL: half of all calls, measured);
        (2) the Python objects are freed at once, so a sealed event takes ~70 bytes, not ~90;
        (3) the flusher is left with Parquet encoding and I/O, which release the GIL. Every numpy
            or Arrow call on a large array releases and re-takes the GIL too, and each re-take
            from a thread waits up to the 5 ms switch interval while the training loop runs:
            measured, half the flusher's time went to such waits, and back-pressure made the
            training loop wait for them.
        """
        with self._lock:
            # Rows appended meanwhile stay. The flat scalar rows grow by one atomic `extend` per
            # event, so a length never splits an event, and the rows below it never change: they
            # are read in place up to `end` (a copy of the live list cost 4 % of log_metric).
            scalar, end = self.scalar_rows, len(self.scalar_rows)
            blocks, generic = self.block_rows[:], self.generic_rows[:]
            try:
                sealed = self._seal_rows(scalar, blocks, generic, scalar_end=end)
            except Exception as exc:
                if self.quarantine is None:
                    raise  # the rows stay; the flusher reports the error and retries
                sealed = self._seal_around_bad_rows(scalar[:end], blocks, generic, exc)
            # Only now, with nothing left to fail: a conversion error leaves every row where it was.
            del self.scalar_rows[:end]
            self.deferred = 0  # converted (a tensor appended meanwhile is not counted: the bound is loose)
            del self.block_rows[: len(blocks)]
            del self.generic_rows[: len(generic)]
            self._sealed.extend(sealed)
            self._sealed_events += sum(piece.table.num_rows for piece in sealed)

    def _seal_around_bad_rows(self, scalar: list[Any], blocks: list[Any], generic: list[Any], error: Exception) -> list[_Sealed]:
        """Defence in depth (DESIGN §11): seal the rows one by one, quarantine those that fail, seal the rest.

        Values are checked at the call, so this runs only if one slipped through; without it one
        bad row would fail every later flush and every pending event of the process.
        """
        assert self.quarantine is not None
        good: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
        rows = [(0, scalar[i : i + SCALAR_WIDTH]) for i in range(0, len(scalar), SCALAR_WIDTH)]
        rows += [(1, [row]) for row in blocks] + [(2, [row]) for row in generic]
        for which, row in rows:
            alone: list[list[Any]] = [[], [], []]
            alone[which] = row
            try:
                self._seal_rows(*alone, number=False)
            except Exception as exc:
                self.quarantine.add(self._describe(which, row), f"could not be encoded ({type(exc).__name__}: {exc})")
                continue
            good[which].extend(row)
        _log.warning("eventlog: a batch failed to encode (%s); its bad events were set aside in %s", error, self.quarantine.path)
        return self._seal_rows(*good)

    def _describe(self, which: int, row: list[Any]) -> dict[str, list[Any]]:
        """A quarantined row as columns: its slot's names, its value as text, its step and time."""
        slot_index = row[0] if which == 0 else row[0][0]
        values: Any = row[1] if which == 0 else row[0][1] if which == 2 else "<packed log_metrics values>"
        slot = self.registry.slots[slot_index] if which != 1 else Slot("?", 0, "metric", "?", ())
        return {
            "experiment": [slot.experiment], "run": [slot.run], "event": [slot.event], "key": [slot.key],
            "value": [repr(values)], "writer": [self.identity.writer], "seq": [None],
        }  # fmt: skip

    def _seal_rows(
        self, scalar: list[Any], blocks: list[Any], generic: list[Any], *, scalar_end: int | None = None, number: bool = True
    ) -> list[_Sealed]:
        """The rows as sealed tables per partition (numbered with this writer's seq unless `number=False`);
        only the first `scalar_end` items of `scalar` (default: all)."""
        end = len(scalar) if scalar_end is None else scalar_end
        parts = [
            part
            for part in (self._scalar_part(scalar, end), self._block_part(blocks), self._generic_part(generic))
            if part is not None
        ]
        if not parts:
            return []
        next_seq = self.next_seq
        try:
            slots = np.concatenate([p.slot for p in parts])
            dts = np.concatenate([p.dt for p in parts])
            columns = {
                "value": pa.concat_arrays([p.value for p in parts]),
                "value_json": pa.concat_arrays([p.value_json for p in parts]),
                "step": pa.concat_arrays([p.step for p in parts]),
            }
            if any(p.extra is not None for p in parts):
                columns["extra"] = pa.concat_arrays([self._slot_extras(p) for p in parts])
            sealed = self._partitions(slots, dts, columns)
        except BaseException:
            self.next_seq = next_seq  # nothing was sealed: the seq numbers are not used
            raise
        if not number:
            self.next_seq = next_seq
        return sealed

    # -- draining (the flusher's thread) ----------------------------------------------------------
    def drain(self) -> list[Segment]:
        """Take every pending event (sealed or not) out of the buffer and encode it as segments.

        Returns:
            The encoded segments (one per partition), in sequence order; [] if nothing was pending.
        """
        with self._lock:
            self.seal()
            sealed, self._sealed, self._sealed_events = self._sealed, [], 0
        by_partition: dict[tuple[str, str], list[_Sealed]] = {}
        for piece in sealed:
            by_partition.setdefault((piece.experiment, piece.date), []).append(piece)
        return [segment for pieces in by_partition.values() for segment in self._segments_or_set_aside(pieces)]

    def _segments_or_set_aside(self, pieces: list[_Sealed]) -> list[Segment]:
        """The partition's segment; if it cannot be encoded, one per encodable row and the rest quarantined.

        The events are already out of the live lists here, so an encoding error must not lose them.
        """
        try:
            return [self._segment(pieces)]
        except Exception as exc:
            if self.quarantine is None:
                raise
            error = exc
        segments = []
        for piece in pieces:
            for row in range(piece.table.num_rows):
                one = piece.table.slice(row, 1)
                single = _Sealed(piece.experiment, piece.date, piece.first_seq + row, one)
                try:
                    segments.append(self._segment([single]))
                except Exception as exc:
                    self.quarantine.add(one.to_pydict(), f"could not be encoded ({type(exc).__name__}: {exc})")
        _log.warning("eventlog: a segment failed to encode (%s); its bad events were set aside", error)
        return segments

    def _segment(self, pieces: list[_Sealed]) -> Segment:
        """One segment of a partition's sealed tables (their seqs ascend; they may have gaps)."""
        first = pieces[0]
        table = first.table if len(pieces) == 1 else pa.concat_tables([p.table for p in pieces])
        return encode_segment(first.experiment, first.date, self.identity.writer, first.first_seq, table)

    def _scalar_part(self, rows: list[Any], end: int) -> _Part | None:
        """The first `end` items of the flat scalar rows as columns."""
        if not end:
            return None
        width = SCALAR_WIDTH
        return _Part(
            slot=np.array(rows[0:end:width], dtype=np.int32),
            value=numeric(_float64(rows[1:end:width])),
            value_json=pa.nulls(end // width, pa.string()),
            step=_steps(rows[2:end:width]),
            dt=np.array(rows[3:end:width], dtype=np.int64),
        )

    def _block_part(self, rows: list[tuple[int, bytes, int | None, int]]) -> _Part | None:
        if not rows:
            return None
        # one unzip in C instead of a generator per column (half the sealing cost of log_metrics)
        keyset_ids, packed, steps, dts = zip(*rows, strict=True)
        first = keyset_ids[0]
        if keyset_ids.count(first) == len(keyset_ids):  # the common case: one key set per run
            slots = np.tile(self.registry.keys_of(first), len(rows))
            lengths: Any = len(packed[0]) // _FLOAT64_BYTES
        else:
            slots = np.concatenate([self.registry.keys_of(k) for k in keyset_ids])
            lengths = np.fromiter(map(len, packed), dtype=np.int64, count=len(rows)) // _FLOAT64_BYTES
        values = np.frombuffer(b"".join(packed), dtype=np.float64)
        step_index = np.repeat(np.arange(len(rows)), lengths)
        return _Part(
            slot=slots,
            value=numeric(values),
            value_json=pa.nulls(len(values), pa.string()),
            step=_steps(list(steps)).take(numeric(step_index)),
            dt=np.repeat(np.array(dts, dtype=np.int64), lengths),
        )

    def _generic_part(self, rows: list[tuple[Any, ...]]) -> _Part | None:
        if not rows:
            return None
        extra = None
        if any(len(row) > 5 and row[5] for row in rows):
            slots = self.registry.slots
            merged = [
                tuple(sorted({**dict(slots[row[0]].extra), **dict(row[5])}.items())) if len(row) > 5 and row[5] else slots[row[0]].extra
                for row in rows
            ]
            extra = string_map(merged, _MAP_TYPE)
        return _Part(
            slot=np.fromiter((row[0] for row in rows), dtype=np.int32, count=len(rows)),
            value=numeric_or_null([row[1] for row in rows], np.float64),
            value_json=strings([row[2] for row in rows]),
            step=_steps([row[3] for row in rows]),
            dt=np.fromiter((row[4] for row in rows), dtype=np.int64, count=len(rows)),
            extra=extra,
        )

    def _slot_extras(self, part: _Part) -> Any:
        """The extra column of a part: its rows' own, else its slots' (run-level) extras."""
        if part.extra is not None:
            return part.extra
        used = self.registry.table(part.slot)
        return self._extras_of(used, len(part.slot))

    def _extras_of(self, used: SlotTable, rows: int) -> Any:
        if not any(slot.extra for slot in used.slots):
            return _no_extras(rows)
        return string_map([slot.extra for slot in used.slots], _MAP_TYPE).take(used.indices)

    def _partitions(self, slots: np.ndarray[Any, Any], dts: np.ndarray[Any, Any], columns: dict[str, Any]) -> list[_Sealed]:
        groups: list[Any]
        if self.registry.experiments == 1 and dts.min() // _NS_PER_DAY == dts.max() // _NS_PER_DAY:
            groups = [None]  # the common case, in two passes over the times (the general one takes six)
        elif (group_key := self._group_keys(slots, dts)).min() == group_key.max():
            groups = [None]
        else:
            order = np.argsort(group_key, kind="stable")
            bounds = np.flatnonzero(np.diff(group_key[order])) + 1
            groups = np.split(order, bounds)
        sealed = []
        for rows in groups:
            g_slots = slots if rows is None else slots[rows]
            g_dts = dts if rows is None else dts[rows]
            g_columns = columns if rows is None else {k: v.take(numeric(rows)) for k, v in columns.items()}
            sealed.append(self._sealed_table(g_slots, g_dts, g_columns))
        return sealed

    def _identity(self, n: int) -> list[Any]:
        """The node, userid and writer columns of an `n`-row table (one value each)."""
        if n <= _SHARED_IDENTITY_ROWS:
            return [column.slice(0, n) for column in self._identity_columns]
        zeros = numeric(np.zeros(n, dtype=np.int32))
        return [pa.DictionaryArray.from_arrays(zeros, one) for one in self._identity_strings]

    def _group_keys(self, slots: np.ndarray[Any, Any], dts: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Each row's partition as one integer: its experiment's number and its day."""
        days = dts // _NS_PER_DAY
        return self.registry.experiment_of[slots] * 1_000_000 + (days - days.min())

    def _sealed_table(self, slots: np.ndarray[Any, Any], dts: np.ndarray[Any, Any], columns: dict[str, Any]) -> _Sealed:
        n = len(slots)
        first_seq = self.next_seq
        self.next_seq += n
        ident = self.identity
        used = self.registry.table(slots)  # dictionaries of the slots this table uses, not of every slot ever
        indices = used.indices
        node, userid, writer = self._identity(n)
        schema = arrow_schema()
        arrays = {
            "run": numeric(np.array([slot.run for slot in used.slots], dtype=np.int64)[used.numbers]),
            "step": columns["step"],
            "event": pa.DictionaryArray.from_arrays(indices, strings([slot.event for slot in used.slots])),
            "key": pa.DictionaryArray.from_arrays(indices, strings([slot.key for slot in used.slots])),
            "value": columns["value"],
            "value_json": columns["value_json"],
            "dt": numeric(dts // 1_000, _DT_TYPE),  # nanoseconds in memory, microseconds in files
            "node": node,
            "userid": userid,
            "rank": pa.nulls(n, pa.int64()) if ident.rank is None else numeric(np.full(n, ident.rank, dtype=np.int64)),
            "writer": writer,
            "seq": numeric(np.arange(first_seq, first_seq + n, dtype=np.int64)),
            "extra": columns["extra"] if "extra" in columns else self._extras_of(used, n),
        }
        return _Sealed(
            experiment=used.slots[0].experiment,
            date=date_of_ns(int(dts[0])),
            first_seq=first_seq,
            table=pa.table([arrays[name] for name in schema.names], names=schema.names),
        )


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _steps(steps: list[int | None]) -> Any:
    """The step column; a step outside int64 (the hot path does not range-check) becomes null, with a warning."""
    try:
        return numeric(np.fromiter(steps, dtype=np.int64, count=len(steps)))  # the common case: one pass in C
    except (TypeError, OverflowError):  # some steps are None, or out of range
        pass
    try:
        return numeric_or_null(steps, np.int64)  # all None (run events): a null column, built directly
    except OverflowError:  # one step must not fail the batch
        pass
    in_range = [s if s is None or _INT64_MIN <= s <= _INT64_MAX else None for s in steps]
    _log.warning("eventlog: steps outside the 64-bit range were stored as null (their events are kept)")
    return numeric_or_null(in_range, np.int64)


def _no_extras(n: int) -> Any:
    """A map column of `n` empty maps, built without a Python object per row (for the short tables
    of short runs, a zero-copy slice of one built once)."""
    return _shared_empty_maps().slice(0, n) if n <= _SHARED_EMPTY_MAPS else _empty_maps(n)


_SHARED_EMPTY_MAPS = 4096
_SHARED_IDENTITY_ROWS = 4096


def _empty_maps(n: int) -> Any:
    offsets = numeric(np.zeros(n + 1, dtype=np.int32))
    return pa.MapArray.from_arrays(offsets, strings([]), strings([]), type=_MAP_TYPE)


@functools.cache
def _shared_empty_maps() -> Any:
    return _empty_maps(_SHARED_EMPTY_MAPS)


def _float64(values: list[Any]) -> np.ndarray[Any, Any]:
    """The metric values as float64s; deferred tensors (ingest.tensors) are converted here, where
    numpy alone fails on a tensor that lives on an accelerator."""
    try:
        return np.array(values, dtype=np.float64)
    except (TypeError, ValueError, RuntimeError):
        return np.array(to_floats(values), dtype=np.float64)
