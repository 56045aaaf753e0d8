"""Slots: the small ints that buffered rows carry instead of (experiment, run, event, key, extras).

A slot is registered once per distinct combination (the slow path); the hot path appends only its
number. A *keyset* is the tuple of slots of one `log_metrics` mapping, so that a row of packed
values carries one int for all its keys. The registry only grows, and every lookup a seal needs
costs the same at 10,000 runs as at one: each slot's experiment is kept in a numpy array grown by
doubling, and `table(slots)` renumbers only the slots a sealed table uses (its dictionaries hold
those, not every slot ever registered).
"""

from __future__ import annotations

import threading
from typing import Any, NamedTuple

import numpy as np

from eventlog.core.names import check_text
from ingest.columns import numeric

__all__ = ["Slot", "SlotRegistry", "SlotTable"]

#: Up to this many rows, a sealed table's slots are renumbered in Python (a short run's flush).
_FEW_ROWS = 64


class Slot(NamedTuple):
    """What a slot number stands for."""

    experiment: str
    run: int
    event: str
    key: str
    extra: tuple[tuple[str, str], ...]


class SlotTable(NamedTuple):
    """The slots one sealed table uses, renumbered 0..k-1."""

    indices: Any  # pa.int32: each row's slot in this table's numbering
    slots: list[Slot]  # the slots used, in that numbering
    numbers: np.ndarray[Any, Any]  # `indices` as a numpy int32 array


class SlotRegistry:
    """Every slot and keyset of one writer process, by number."""

    def __init__(self) -> None:
        self.slots: list[Slot] = []
        self._slot_ids: dict[Slot, int] = {}
        self._keysets: list[np.ndarray[Any, Any]] = []
        self._keyset_ids: dict[tuple[int, ...], int] = {}
        #: each slot's experiment as a small int (for partitioning), grown by doubling
        self.experiment_of: np.ndarray[Any, Any] = np.zeros(64, dtype=np.int64)
        self._experiment_ids: dict[str, int] = {}
        self._lock = threading.RLock()  # re-entrant: a SIGTERM handler may register a slot mid-registration

    def slot(self, experiment: str, run: int, event: str, key: str, extra: dict[str, str] | None = None) -> int:
        """The slot number of (experiment, run, event, key, extra), registering it if new.

        Raises:
            ValueError: a name is not valid UTF-8. The callers check names first; this guards the
                registry itself, since one bad slot would fail the encoding of every later batch.
        """
        entry = Slot(experiment, run, event, key, tuple(sorted(extra.items())) if extra else ())
        found = self._slot_ids.get(entry)
        if found is not None:
            return found
        for text in (experiment, event, key, *(t for pair in entry.extra for t in pair)):
            check_text(text, "a name of an event")
        with self._lock:
            found = self._slot_ids.get(entry)
            if found is None:
                found = len(self.slots)
                self._note_experiment(found, experiment)  # before the slot is visible to any row
                self.slots.append(entry)
                self._slot_ids[entry] = found
            return found

    def _note_experiment(self, slot: int, experiment: str) -> None:
        if slot >= len(self.experiment_of):
            grown = np.zeros(2 * len(self.experiment_of), dtype=np.int64)
            grown[: len(self.experiment_of)] = self.experiment_of
            self.experiment_of = grown  # a seal holding the old array still finds every slot it sees
        self.experiment_of[slot] = self._experiment_ids.setdefault(experiment, len(self._experiment_ids))

    @property
    def experiments(self) -> int:
        """How many experiments the registered slots belong to."""
        return len(self._experiment_ids)

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

    def keys_of(self, keyset: int) -> np.ndarray[Any, Any]:
        """The slots of keyset `keyset`, as an int32 array."""
        return self._keysets[keyset]

    def table(self, slots: np.ndarray[Any, Any]) -> SlotTable:
        """The slots `slots` uses, renumbered: the cost follows the rows, not the number of slots registered."""
        top = int(slots.max())
        used: list[int]
        if top < 4 * len(slots):  # dense: a count per slot number is the cheapest
            present = np.flatnonzero(np.bincount(slots))
            renumber = np.zeros(top + 1, dtype=np.int32)
            renumber[present] = np.arange(len(present), dtype=np.int32)
            numbers = renumber[slots]
            used = present.tolist()
        elif len(slots) <= _FEW_ROWS:  # a short run's flush: numpy's per-call costs outweigh the rows
            values = slots.tolist()
            used = sorted(set(values))
            position = {slot: i for i, slot in enumerate(used)}
            numbers = np.array([position[slot] for slot in values], dtype=np.int32)
        else:  # few rows of a long-lived process's many slots: sort the rows instead
            present, inverse = np.unique(slots, return_inverse=True)
            numbers = inverse.astype(np.int32, copy=False)
            used = present.tolist()
        registry = self.slots
        return SlotTable(numeric(numbers), [registry[i] for i in used], numbers)
