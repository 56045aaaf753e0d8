"""The write buffer turns rows into one segment per partition, numbered by the writer's sequence."""

from __future__ import annotations

import io
from array import array

import pyarrow.parquet as pq
import pytest

from eventlog.core.identity import Identity
from ingest.buffer import WriteBuffer

DAY = 86_400 * 10**9
T0 = 1_763_856_000 * 10**9  # 2025-11-23T00:00:00Z


def rows_of(segment: object) -> list[dict]:
    return pq.read_table(io.BytesIO(segment.data)).to_pylist()  # type: ignore[attr-defined]


def test_drain_splits_by_experiment_and_date_and_numbers_events() -> None:
    buf = WriteBuffer(Identity(node="n", userid="u", rank=3, writer="w1"))
    a = buf.slot("a", 1, "metric", "loss")
    b = buf.slot("b", 7, "metric", "acc", {"tag": "x"})
    buf.add_metrics([(a, 1.0, 0, T0), (b, 2.0, None, T0 + 1), (a, 3.0, 1, T0 + DAY)])
    segments = buf.drain()
    assert [(s.experiment, s.date, s.count) for s in segments] == [("a", "2025-11-23", 1), ("a", "2025-11-24", 1), ("b", "2025-11-23", 1)]
    assert sorted(s.first_seq for s in segments) == [0, 1, 2]
    assert buf.drain() == []
    row = rows_of(segments[2])[0]
    assert (row["run"], row["key"], row["value"], row["step"], row["rank"], row["writer"]) == (7, "acc", 2.0, None, 3, "w1")
    assert dict(row["extra"]) == {"tag": "x"}
    assert segments[0].path == "seg/experiment=a/date=2025-11-23/w1/" + f"{segments[0].first_seq:020d}.runs-1-1.parquet"
    assert segments[2].runs == (7, 7)


def test_a_segment_names_the_range_of_its_runs() -> None:
    buf = WriteBuffer(Identity(node="n", userid="u", rank=None, writer="w1"))
    slots = [buf.slot("a", run, "metric", "loss") for run in (12, 3, 40)]
    buf.add_metrics([(slot, 1.0, 0, T0) for slot in slots])
    (segment,) = buf.drain()
    assert segment.runs == (3, 40)
    assert segment.path.endswith(f"/w1/{segment.first_seq:020d}.runs-3-40.parquet")
    assert sorted(set(rows_of(segment)[i]["run"] for i in range(3))) == [3, 12, 40]


def test_block_and_generic_rows_expand_in_order_with_their_steps() -> None:
    buf = WriteBuffer(Identity(node="n", userid="u", rank=None, writer="w"))
    ks = buf.keyset((buf.slot("e", 1, "metric", "x"), buf.slot("e", 1, "metric", "y")))
    ks2 = buf.keyset((buf.slot("e", 1, "metric", "z"),))
    buf.block_rows.extend([(ks, array("d", [1.0, 2.0]).tobytes(), 5, T0), (ks2, array("d", [3.0]).tobytes(), None, T0 + 5)])
    buf.generic_rows.append((buf.slot("e", 1, "param", "lr"), None, '"adam"', None, T0 + 9))
    (segment,) = buf.drain()
    rows = rows_of(segment)
    assert [(r["key"], r["value"], r["step"], r["value_json"]) for r in rows] == [
        ("x", 1.0, 5, None), ("y", 2.0, 5, None), ("z", 3.0, None, None), ("lr", None, None, '"adam"'),
    ]
    assert [r["seq"] for r in rows] == [0, 1, 2, 3]
    assert segment.count == 4 and buf.next_seq == 4


def test_rows_appended_during_a_drain_wait_for_the_next_one() -> None:
    buf = WriteBuffer(Identity(node="n", userid="u", rank=None, writer="w"))
    s = buf.slot("e", 1, "metric", "m")
    buf.add_metrics((s, float(i), i, T0 + i) for i in range(10))
    first = buf.drain()
    buf.add_metrics([(s, 10.0, 10, T0 + 10)])
    second = buf.drain()
    assert sum(x.count for x in first) == 10 and sum(x.count for x in second) == 1
    assert rows_of(second[0])[0]["seq"] == 10


def test_sealed_chunks_of_one_partition_become_one_segment_even_when_new_keys_appear_between() -> None:
    buf = WriteBuffer(Identity(node="n", userid="u", rank=None, writer="w"))
    a = buf.slot("e", 1, "metric", "a")
    buf.add_metrics((a, float(i), i, T0 + i) for i in range(3))
    buf.seal()  # the writer's thread seals when max_events wait
    assert buf.pending() == 3 and buf.scalar_rows == []
    b = buf.slot("e", 1, "metric", "b", {"tag": "t"})  # a new slot: the key dictionary grows
    other = buf.slot("f", 2, "metric", "a")  # another partition in between
    buf.add_metrics([(b, 10.0, 0, T0 + 10), (other, 20.0, 0, T0 + 11)])
    buf.seal()
    buf.add_metrics([(a, 3.0, 3, T0 + 12)])  # left live: drain() seals it
    segments = buf.drain()
    assert buf.pending() == 0
    by_experiment = {s.experiment: s for s in segments}
    assert sorted(by_experiment) == ["e", "f"]
    rows = rows_of(by_experiment["e"])
    assert [(r["key"], r["value"], r["seq"], dict(r["extra"])) for r in rows] == [
        ("a", 0.0, 0, {}), ("a", 1.0, 1, {}), ("a", 2.0, 2, {}), ("b", 10.0, 3, {"tag": "t"}), ("a", 3.0, 5, {}),
    ]
    assert by_experiment["e"].first_seq == 0 and by_experiment["e"].count == 5
    assert [(r["key"], r["run"], r["seq"]) for r in rows_of(by_experiment["f"])] == [("a", 2, 4)]



def test_a_seal_that_fails_keeps_every_row_for_the_next_try(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = WriteBuffer(Identity(node="n", userid="u", rank=None, writer="w"))
    a = buf.slot("e", 1, "metric", "a")
    buf.add_metrics([(a, 1.0, 1, T0), (a, 2.0, 2, T0 + 1)])
    buf.generic_rows.append((buf.slot("e", 1, "param", "p"), None, '"x"', None, T0 + 2))

    def broken(*args: object) -> None:
        raise MemoryError("no room")

    monkeypatch.setattr(buf, "_partitions", broken)
    with pytest.raises(MemoryError):
        buf.seal()
    assert buf.pending() == 3  # nothing was taken
    monkeypatch.undo()
    (segment,) = buf.drain()
    assert [(r["key"], r["value"]) for r in rows_of(segment)] == [("a", 1.0), ("a", 2.0), ("p", None)]
