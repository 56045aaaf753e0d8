"""A Hypothesis state machine: log, drain, publish (failing or not), crash and recover, in any order.

The model is a plain Python set of event ids: every event that reached the outbox (was drained)
must end up in the store exactly once, whatever failed and whoever crashed in between.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile

import pyarrow.parquet as pq
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from eventlog.core.identity import Identity
from eventlog.core.segment import Segment, publish
from eventlog.core.store import open_store
from ingest.buffer import WriteBuffer
from ingest.recovery import recover_spools
from ingest.spool import Spool, SpoolOutbox, spool_dir

T0 = 1_763_856_000 * 10**9
FAIL_MODES = ("ok", "before", "after")  # publish works / fails before the write / fails after it landed


class CrashRecoverMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.mkdtemp(prefix="spool-model-")
        self.store = open_store(os.path.join(self.tmp, "store"))
        self.base = os.path.join(self.tmp, "spool")
        self.generation = 0
        self.accepted: set[tuple[str, int]] = set()  # the model: drained events, by (writer, seq)
        self.mode = "ok"
        self._new_writer()

    def _new_writer(self) -> None:
        self.generation += 1
        writer = f"w{self.generation}"
        self.buffer = WriteBuffer(Identity(node="n", userid="u", rank=None, writer=writer))
        self.slot = self.buffer.slot("e", 1, "metric", "x")
        self.spool = Spool(spool_dir(self.store, self.base), writer)
        self.outbox = SpoolOutbox(self.spool, self._sink)

    def _sink(self, segments: list[Segment]) -> None:
        for segment in segments:
            if self.mode == "before":
                raise ConnectionError("store down")
            publish(self.store, segment)
            if self.mode == "after":
                raise TimeoutError("timed out, but landed")

    def _store_ids(self) -> list[tuple[str, int]]:
        ids: list[tuple[str, int]] = []
        for info in self.store.find("seg"):
            table = pq.read_table(io.BytesIO(self.store.read(info.path)), columns=["writer", "seq"])
            ids += list(zip(table.column("writer").to_pylist(), table.column("seq").to_pylist()))
        return ids

    @rule(n=st.integers(min_value=1, max_value=50))
    def log(self, n: int) -> None:
        self.buffer.add_metrics((self.slot, float(i), i, T0 + i) for i in range(n))

    @rule()
    def drain(self) -> None:
        segments = self.buffer.drain()
        self.outbox.put(segments)
        for s in segments:
            self.accepted |= {(s.writer, seq) for seq in range(s.first_seq, s.first_seq + s.count)}

    @rule(mode=st.sampled_from(FAIL_MODES))
    def send(self, mode: str) -> None:
        self.mode = mode
        try:
            self.outbox.send()
        except (ConnectionError, TimeoutError):
            pass
        finally:
            self.mode = "ok"

    @precondition(lambda self: self.generation < 6)
    @rule()
    def crash_and_recover(self) -> None:
        self.spool.close(remove=False)  # kill -9: the lock goes, the frames stay, the buffer is lost
        recover_spools(self.store, spool_base=self.base)
        directory = spool_dir(self.store, self.base)
        leftovers = [n for n in os.listdir(directory) if n.endswith(".spool")] if os.path.isdir(directory) else []
        assert leftovers == []  # the dead writer's spool was fully recovered and deleted
        ids = self._store_ids()
        assert sorted(ids) == sorted(self.accepted)  # every drained event, exactly once
        self._new_writer()

    @invariant()
    def never_duplicated_and_nothing_foreign(self) -> None:
        ids = self._store_ids()
        assert len(ids) == len(set(ids))
        assert set(ids) <= self.accepted

    def teardown(self) -> None:
        try:
            self.outbox.send()
            assert sorted(self._store_ids()) == sorted(self.accepted)
        finally:
            self.spool.close(remove=True)
            shutil.rmtree(self.tmp, ignore_errors=True)


CrashRecoverMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=15, deadline=None)
test_crash_recover_model = CrashRecoverMachine.TestCase
