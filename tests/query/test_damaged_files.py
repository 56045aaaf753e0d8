"""Issue 13: a damaged file is named, with what to do, and can be read around; the CLI says it in one line."""

from __future__ import annotations

import io
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import eventlog
import query
from eventlog.core.store import open_store
from eventlog.errors import DamagedFileError, DamagedFilesSkippedWarning

BAD = "seg/experiment=e/date=2026-11-23/broken/00000000000000000000.parquet"


def _foreign() -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table({"a": [1, 2], "b": ["x", "y"]}), sink)
    return sink.getvalue()


def _good_bytes_cut() -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table({"run": list(range(1000))}), sink)
    return sink.getvalue()[: len(sink.getvalue()) // 2]


DAMAGE = {
    "truncated": _good_bytes_cut(),
    "garbage": b"PAR1 this is not parquet at all PAR1",
    "foreign schema": _foreign(),
    "magic only": b"PAR1",
}


def _store_with(local_uri: str, damage: bytes) -> None:
    with eventlog.open(local_uri) as log, log.experiment("e") as exp:
        for step in range(5):
            exp.log_metric("loss", 1.0 / (step + 1), step=step)
    open_store(local_uri).create(BAD, damage)


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_a_damaged_file_is_named_and_can_be_skipped(local_uri: str, kind: str) -> None:
    _store_with(local_uri, DAMAGE[kind])
    with pytest.raises(DamagedFileError, match=r"broken/00000000000000000000\.parquet") as caught:
        query.data(local_uri, "e", event="metric")
    assert "on_damaged='skip'" in str(caught.value) and caught.value.paths == [BAD]
    with pytest.warns(DamagedFilesSkippedWarning, match="1 damaged file"):
        frame = query.data(local_uri, "e", event="metric", on_damaged="skip")
    assert frame["step"].to_list() == [0, 1, 2, 3, 4]
    with pytest.warns(DamagedFilesSkippedWarning):
        table = query.runs(local_uri, "e", on_damaged="skip")
    assert table["status"].to_list() == ["completed"]
    exp = eventlog.open(local_uri).experiment("e")
    with pytest.warns(DamagedFilesSkippedWarning):
        assert exp.data(event="metric", on_damaged="skip").height == 5


def test_the_cli_prints_one_line_and_exits_1_then_skips_on_request(local_uri: str) -> None:
    _store_with(local_uri, DAMAGE["garbage"])
    command = [sys.executable, "-m", "eventlog.cli", "runs", "e", "--store", local_uri]
    failed = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert failed.returncode == 1
    assert failed.stderr.count("\n") == 1 and failed.stderr.startswith("error: 1 damaged file(s)"), failed.stderr
    skipped = subprocess.run([*command[:3], "--skip-damaged", *command[3:]], capture_output=True, text=True, timeout=120)
    assert skipped.returncode == 0, skipped.stderr
    assert "warning: 1 damaged file(s) skipped" in skipped.stderr and "completed" in skipped.stdout
