"""Issue 13: a restore trusts no reference and runs no one else's code.

A reference is data in an event, and events can come from anyone holding a collector token. These
tests forge references as such a client would (through the writer, under the facade's own check)
and assert that nothing is read outside the store's artifact area of the run, nothing is written
outside the destination, and only the user's own pickles are unpickled by default.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import eventlog
from eventlog.core.artifact_trust import key_file
from eventlog.errors import UnsafeArtifactError
from eventlog.experiment import Experiment
from ingest.collector import CollectorThread

SHA = "0" * 64


def forge(exp: Experiment, name: str, ref: dict[str, Any]) -> None:
    """Log an artifact event with a hand-made reference, as a hostile client could (no facade check)."""
    writer = exp._writer
    assert writer is not None
    writer.log_event("artifact", name, ref)


def refs_of_run(tmp_path: Path, run: int = 1) -> dict[str, dict[str, Any]]:
    area = f"artifacts/victim/{run}/u"
    return {
        "absolute file name": {"format": "file", "name": "a", "path": f"{area}/x", "filename": str(tmp_path / "evil"), "size": 1, "sha256": SHA},
        "dotted file name": {"format": "file", "name": "b", "path": f"{area}/x", "filename": "..", "size": 1, "sha256": SHA},
        "slash in file name": {"format": "file", "name": "c", "path": f"{area}/x", "filename": "../../evil", "size": 1, "sha256": SHA},
        "payload outside the store": {"format": "file", "name": "d", "path": f"{area}/../../../../etc/passwd", "filename": "p", "size": 1, "sha256": SHA},
        "payload of another run": {"format": "pickle", "name": "e", "path": "artifacts/victim/3/u/x.pkl", "size": 1, "sha256": SHA},
        "payload of another experiment": {"format": "file", "name": "f", "path": "artifacts/other/1/u/x", "filename": "x", "size": 1, "sha256": SHA},
        "sha256 as a path": {"format": "file", "name": "g", "path": f"{area}/x", "filename": "x", "size": 1, "sha256": "../../x"},
        "dir relpath leaving": {"format": "dir", "name": "h", "dirname": "d", "size": 1, "sha256": SHA,
                                "files": [{"relpath": "../../evil", "path": f"{area}/x", "size": 1, "sha256": SHA}]},
        "absolute dir name": {"format": "dir", "name": "i", "dirname": "/tmp", "size": 1, "sha256": SHA, "files": []},
    }  # fmt: skip


@pytest.mark.parametrize("case", list(refs_of_run(Path("/x"))))
def test_a_forged_reference_is_refused_and_nothing_is_written_outside(local_uri: str, tmp_path: Path, case: str) -> None:
    ref = refs_of_run(tmp_path)[case]
    dest = tmp_path / "restore" / "here"
    dest.mkdir(parents=True)
    before = set(tmp_path.rglob("*"))
    with eventlog.open(local_uri) as log:
        exp = log.experiment("victim")
        with exp:
            forge(exp, ref["name"], ref)
        with pytest.raises(UnsafeArtifactError):
            exp.restore_artifacts(dest=dest)
        with pytest.raises(UnsafeArtifactError), exp:  # the facade refuses to log it in the first place
            exp.log_event("artifact", ref["name"], ref)
    spool = tmp_path / "spool-dir"
    created = {p for p in set(tmp_path.rglob("*")) - before if not str(p).startswith((local_uri, str(spool)))}
    assert not (tmp_path / "evil").exists()
    assert {p for p in created if dest not in p.parents and p != dest} == set()


def test_the_collector_refuses_artifact_events_that_point_elsewhere(local_uri: str, tmp_path: Path) -> None:
    ref = refs_of_run(tmp_path)["slash in file name"]
    with CollectorThread(local_uri, token="t") as collector, eventlog.open(collector.url, token="t") as log:
        exp = log.experiment("victim")
        with exp:
            exp.log_metric("loss", 1.0)
            forge(exp, "a", ref)
            with pytest.warns(eventlog.EventsQuarantinedWarning, match="refused"):
                exp.flush()
        assert log.remote is not None and log.remote.quarantine.count == 1
    stored = eventlog.open(local_uri).experiment("victim").data(event="*")
    assert "artifact" not in stored["event"].to_list() and "loss" in stored["key"].to_list()


class Secret:
    """A pickled object: restoring it runs code (here, it only proves it was loaded)."""

    def __reduce__(self) -> Any:
        return (dict, ({"loaded": True},))


def test_own_pickles_load_others_need_allow_pickle(local_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with eventlog.open(local_uri) as log:
        exp = log.experiment("pickles")
        with exp:
            exp.log_artifact(Secret(), "mine")
        assert exp.restore_artifacts(key="mine") == [{"loaded": True}]  # the seed's call: own runs still work
        with pytest.raises(UnsafeArtifactError, match="allow_pickle=False"):
            exp.restore_artifacts(key="mine", allow_pickle=False)
        assert key_file().stat().st_mode & 0o777 == 0o600
        # Another user (another key) restores the same run: refused unless they say they trust it.
        monkeypatch.setenv("EVENTLOG_SIGNING_KEY_FILE", str(tmp_path / "other-user-key"))
        with pytest.raises(UnsafeArtifactError, match="not signed with your key"):
            exp.restore_artifacts(key="mine")
        assert exp.restore_artifacts(key="mine", allow_pickle=True) == [{"loaded": True}]


def test_a_forged_signature_does_not_make_a_pickle_trusted(local_uri: str) -> None:
    with eventlog.open(local_uri) as log:
        exp = log.experiment("pickles")
        with exp:
            exp.log_artifact(Secret(), "mine")
        ref = json.loads(exp.data(event="artifact")["value_json"][0])
        with exp:  # a client copies the payload's reference but cannot sign another payload
            forge(exp, "copy", {**ref, "name": "copy", "sha256": "1" * 64, "path": ref["path"].replace("/1/", "/2/")})
        with pytest.raises(UnsafeArtifactError, match="not signed"):
            exp.restore_artifacts(key="copy", run=2)


def test_the_cli_never_unpickles(local_uri: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    script = (
        "import os, eventlog\n"
        "class Boom:\n"
        f"    def __reduce__(self): return (os.mkdir, ({str(marker)!r},))\n"
        f"with eventlog.open({local_uri!r}) as log, log.experiment('cli') as exp:\n"
        "    exp.log_artifact(Boom(), 'boom')\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    result = subprocess.run(
        [sys.executable, "-m", "eventlog.cli", "artifacts", "cli", "--store", local_uri, "--restore", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "boom" in result.stdout and "pickle" in result.stdout
    assert not marker.exists()
