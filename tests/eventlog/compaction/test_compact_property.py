"""Property: any interleaving of appends, compactions (crashing or not) and gc keeps reads exactly-once."""

from __future__ import annotations

import tempfile

from hypothesis import given, settings
from hypothesis import strategies as st

from eventlog.compaction.compactor import compact
from eventlog.compaction.gc import collect_garbage
from eventlog.core.store import open_store
from query.scan import scan_store
from testkit import write_segments

STEPS = ["none", "listed", "file_written", "before_commit", "committed"]
operation = st.one_of(
    st.tuples(st.just("append"), st.integers(1, 4)),
    st.tuples(st.just("compact"), st.sampled_from(STEPS), st.sampled_from([1, 150, 10_000])),
    st.tuples(st.just("gc")),
)


class Crash(Exception):
    """The compactor died at a step."""


@settings(max_examples=25)
@given(st.lists(operation, min_size=1, max_size=8))
def test_reads_equal_what_was_logged_whatever_happens(operations: list[tuple]) -> None:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as root:
        store = open_store(root + "/store")
        logged = 0
        segments = 0
        for op in operations:
            if op[0] == "append":
                logged += write_segments(store, "p", segments=op[1], events=50, start=segments)
                segments += op[1]
            elif op[0] == "compact":
                step, max_events = op[1], op[2]

                def crash(name: str, step: str = step) -> None:
                    if name == step:
                        raise Crash(step)

                try:
                    compact(store, max_events=max_events, _fault=crash)
                except Crash:
                    pass
            else:
                collect_garbage(store, grace=0, force=True, dry_run=False)
            frame = scan_store(store).select("writer", "seq").collect()
            assert (frame.height, frame.unique().height) == (logged, logged), op
