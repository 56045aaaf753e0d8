"""The slot registry: numbers registered once, experiments tracked past any size, tables renumbered."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.slots import Slot, SlotRegistry


def test_a_slot_is_registered_once_and_its_experiment_tracked_past_the_first_array() -> None:
    registry = SlotRegistry()
    numbers = [registry.slot(f"e{i % 3}", i, "metric", "loss") for i in range(200)]  # past 64: the array doubles
    assert numbers == list(range(200))
    assert registry.slot("e1", 1, "metric", "loss") == 1
    assert registry.experiment_of[:6].tolist() == [0, 1, 2, 0, 1, 2]
    assert registry.slot("e0", 0, "metric", "loss", {"b": "2", "a": "1"}) == registry.slot("e0", 0, "metric", "loss", {"a": "1", "b": "2"})


def test_a_table_holds_only_the_slots_it_uses_renumbered() -> None:
    registry = SlotRegistry()
    for i in range(1000):
        registry.slot("e", i, "metric", "loss")
    table = registry.table(np.array([999, 5, 999, 42], dtype=np.int32))
    assert table.indices.to_pylist() == [2, 0, 2, 1]
    assert table.slots == [Slot("e", 5, "metric", "loss", ()), Slot("e", 42, "metric", "loss", ()), Slot("e", 999, "metric", "loss", ())]


def test_dense_and_sparse_tables_renumber_alike() -> None:
    # a table of many rows counts slot numbers; one of few rows among many slots sorts its rows
    registry = SlotRegistry()
    for i in range(50):
        registry.slot("e", i, "metric", "loss")
    rows = np.array([7, 3, 7, 49, 3] * 20, dtype=np.int32)  # dense: the highest slot < 4 x rows
    dense, sparse = registry.table(rows), registry.table(rows[:5])
    assert dense.indices.to_pylist() == [1, 0, 1, 2, 0] * 20
    assert sparse.indices.to_pylist() == [1, 0, 1, 2, 0] and sparse.numbers.tolist() == [1, 0, 1, 2, 0]
    assert dense.slots == sparse.slots == [registry.slots[3], registry.slots[7], registry.slots[49]]


def test_tables_of_few_and_of_more_sparse_rows_renumber_alike() -> None:
    # up to 64 rows among many slots are renumbered in Python, more rows by numpy's unique
    registry = SlotRegistry()
    for i in range(1000):
        registry.slot("e", i, "metric", "loss")
    rows = np.array([999, 5, 999, 42, 5] * 20, dtype=np.int32)  # 100 rows, the highest slot >= 4 x rows
    more, few = registry.table(rows), registry.table(rows[:5])
    assert more.indices.to_pylist() == [2, 0, 2, 1, 0] * 20 and few.indices.to_pylist() == [2, 0, 2, 1, 0]
    assert more.numbers.dtype == few.numbers.dtype == np.int32
    assert more.slots == few.slots == [registry.slots[5], registry.slots[42], registry.slots[999]]


def test_keysets_and_bad_names() -> None:
    registry = SlotRegistry()
    keys = (registry.slot("e", 1, "metric", "x"), registry.slot("e", 1, "metric", "y"))
    assert registry.keyset(keys) == registry.keyset(keys) == 0
    assert registry.keys_of(0).tolist() == [0, 1]
    with pytest.raises(ValueError, match="UTF-8"):
        registry.slot("e", 1, "metric", "caf\udce9")
    assert len(registry.slots) == 2  # the bad name registered nothing
