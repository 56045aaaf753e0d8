"""Property: any interleaving of appends, compactions (crashing or not), gc (expiring tombstones) and
late spool replays of already-published segments keeps reads exactly-once."""

from __future__ import annotations

import tempfile

from hypothesis import given, settings
from hypothesis import strategies as st

from eventlog.compaction.compactor import compact
from eventlog.compaction.gc import collect_garbage
from eventlog.core.segment import publish
from eventlog.core.store import open_store
from query.scan import scan_store
from testkit import make_segment, write_segments

STEPS = ["none", "listed", "file_written", "before_commit", "committed"]
operation = st.one_of(
    st.tuples(st.just("append"), st.integers(1, 4)),
    # a compaction that finishes, half the time; else one that crashes at a step
    st.tuples(st.just("compact"), st.one_of(st.just("none"), st.sampled_from(STEPS)), st.sampled_from([1, 150, 10_000])),
    st.tuples(st.just("gc")),
    st.tuples(st.just("replay"), st.integers(0, 31)),  # a spool publishing an earlier segment again
)


class Crash(Exception):
    """The compactor died at a step."""


@settings(max_examples=100, deadline=None)
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
            elif op[0] == "replay":
                if segments:  # the same bytes under the same name, as write_segments made them
                    index = op[1] % segments
                    publish(store, make_segment("p", f"p-w{index % 4}", (index // 4) * 50, 50))
            else:  # the data is dated 2026-11-23: older than TOMBSTONE_DAYS, so gc also drops tombstones
                collect_garbage(store, grace=0, force=True, dry_run=False)
            frame = scan_store(store).select("writer", "seq").collect()
            assert (frame.height, frame.unique().height) == (logged, logged), op
