"""The Arrow schema is derived from the Event struct, and events round-trip through msgpack and Parquet."""

from __future__ import annotations

import io
import math

import msgspec
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given
from hypothesis import strategies as st

from eventlog.core.event import Event, arrow_schema, file_columns, polars_schema
from eventlog.core.segment import encode_table, table_from_events


def make_event(**overrides: object) -> Event:
    fields = {
        "experiment": "e", "run": 1, "step": 3, "event": "metric", "key": "loss", "value": 0.5,
        "value_json": None, "dt": 1_700_000_000_123_456_789, "node": "n", "userid": "u", "rank": None,
        "writer": "w", "seq": 7, "extra": {"tag": "v1"},
    }
    fields.update(overrides)
    return Event(**fields)  # type: ignore[arg-type]


def test_schema_follows_struct_fields_in_order_without_partition_columns() -> None:
    assert file_columns() == tuple(f for f in Event.__struct_fields__ if f != "experiment")
    schema = arrow_schema()
    assert schema.field("dt").type == pa.timestamp("us", tz="UTC")  # every engine reads it (Spark 4 refuses ns)
    assert schema.field("value").type == pa.float64()
    assert schema.field("extra").type == pa.map_(pa.string(), pa.string())
    assert arrow_schema(with_partitions=True).names[0] == "experiment"


def test_the_polars_schema_is_what_polars_makes_of_the_arrow_schema() -> None:
    # declared without pyarrow (reading never imports it), so checked against the Arrow one here
    from_arrow = pl.from_arrow(pa.Table.from_batches([], schema=arrow_schema()))
    assert isinstance(from_arrow, pl.DataFrame)
    assert polars_schema() == from_arrow.schema


def test_reading_imports_no_pyarrow(tmp_path: object) -> None:
    import subprocess
    import sys

    import eventlog

    uri = str(tmp_path)
    with eventlog.open(uri) as log, log.experiment("e") as exp:
        exp.log_metric("loss", 0.5, step=0)
    reads = (
        "import sys, query\n"
        "query.data(sys.argv[1], 'e', run='*'); query.runs(sys.argv[1], 'e'); query.summary(sys.argv[1], 'e')\n"
        "print('pyarrow' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", reads, uri], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr


def test_event_is_compact_array_like_msgpack() -> None:
    event = make_event()
    data = msgspec.msgpack.encode(event)
    assert data[0] & 0xF0 == 0x90  # a msgpack array, not a map with field names
    assert msgspec.msgpack.decode(data, type=Event) == event


finite_or_not = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.none())


@given(
    st.lists(
        st.builds(
            make_event,
            step=st.one_of(st.none(), st.integers(-(2**62), 2**62)),
            key=st.text(min_size=1, max_size=50),
            value=finite_or_not,
            seq=st.integers(0, 2**62),
            extra=st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_events_round_trip_through_a_parquet_segment(events: list[Event]) -> None:
    table = pq.read_table(io.BytesIO(encode_table(table_from_events(events))))
    rows = table.to_pylist()
    assert len(rows) == len(events)
    for row, event in zip(rows, events, strict=True):
        assert row["key"] == event.key and row["seq"] == event.seq and row["step"] == event.step
        assert dict(row["extra"]) == event.extra
        if event.value is None:
            assert row["value"] is None
        elif math.isnan(event.value):
            assert math.isnan(row["value"])
        else:
            assert row["value"] == event.value
        assert row["dt"].value == event.dt if hasattr(row["dt"], "value") else True
