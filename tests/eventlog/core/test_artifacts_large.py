"""A 200 MB file artifact streams to and from the store in bounded memory (local disk and moto S3).

The logging and restoring happen in a child process whose peak RSS (`ru_maxrss`) is measured
before and after: reading the file whole would raise the peak by ~200 MB; streaming in 8 MiB
chunks keeps the growth to a few chunks.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SIZE = 200 * 2**20
MAX_GROWTH = 80 * 2**20  # well under the file's size: a few 8 MiB chunks plus client buffers

CHILD = r"""
import json, pathlib, resource, sys
import eventlog

uri, source = sys.argv[1], pathlib.Path(sys.argv[2])
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
log = eventlog.open(uri, flush_every=60)
exp = log.experiment("big")
with exp:
    exp.log_metric("warm-up", 1.0)
    exp.flush()
    exp.data()  # warm up the query path so that its one-off allocations are in the baseline
    base = peak()
    exp.log_artifact(source, "blob")
after_store = peak()
[path] = exp.restore_artifacts(key="blob")
after_restore = peak()
print(json.dumps({"base": base, "store": after_store, "restore": after_restore, "path": str(path)}))
log.close()
"""


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("big") / "big.bin"
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        for _ in range(SIZE // 2**22):
            chunk = os.urandom(2**22)
            digest.update(chunk)
            f.write(chunk)
    return path, digest.hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["local", pytest.param("s3", marks=pytest.mark.s3)])
def test_a_200_mb_file_streams_in_bounded_memory(backend: str, big_file: tuple[Path, str], request: pytest.FixtureRequest,
                                                 tmp_path: Path) -> None:
    uri = str(request.getfixturevalue(f"{backend}_uri"))
    source, sha256 = big_file
    env = {**os.environ, "EVENTLOG_ARTIFACT_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", CHILD, uri, str(source)], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["store"] - report["base"] < MAX_GROWTH, report
    assert report["restore"] - report["base"] < MAX_GROWTH, report
    restored = Path(report["path"])
    assert restored.stat().st_size == SIZE
    digest = hashlib.sha256()
    with open(restored, "rb") as f:
        for chunk in iter(lambda: f.read(2**23), b""):
            digest.update(chunk)
    assert digest.hexdigest() == sha256
    if backend == "s3":
        assert restored.is_relative_to(tmp_path / "cache")
