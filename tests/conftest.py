"""Shared fixtures: a real S3-protocol server (moto) on 127.0.0.1 and stores on every backend.

The moto server runs in-process (`ThreadedMotoServer`) for the whole session; each test that asks
for `s3_uri` gets its own fresh bucket. Dummy credentials and `AWS_ENDPOINT_URL` are set for the
session so that s3fs, boto3 and polars all talk to it.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Timing-based health checks are noise on a shared 2-core machine; correctness is what we test.
settings.register_profile("eventlog", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("eventlog")

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "EVENTLOG_URI", "EVENTLOG_RUN_ID", "EVENTLOG_FLUSH_ON_STOP", "EVENTLOG_COMPACT_EVERY", "RANK", "SLURM_JOB_ID", "SLURM_PROCID"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The URL of a moto S3 server listening on 127.0.0.1 (started once per session)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    previous = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    yield endpoint
    if previous is None:
        os.environ.pop("AWS_ENDPOINT_URL", None)
    else:
        os.environ["AWS_ENDPOINT_URL"] = previous
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A new, empty bucket on the moto server."""
    import boto3

    name = f"evlog-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket=name)
    client.close()  # its connection pool would otherwise be collected open (a ResourceWarning)
    return name


@pytest.fixture(autouse=True)
def _own_spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test spools in its own directory: a spool left by one test (a collector URL on a reused
    port, say) must not be recovered into another's store. Tests that need another set their own.
    Likewise each test has its own pickle-signing key (never the user's ~/.config one)."""
    monkeypatch.setenv("EVENTLOG_SPOOL_DIR", str(tmp_path / "spool-dir"))
    monkeypatch.setenv("EVENTLOG_SIGNING_KEY_FILE", str(tmp_path / "signing-key"))


@pytest.fixture
def s3_uri(s3_bucket: str) -> str:
    """A store URI inside a fresh bucket on the moto server."""
    return f"s3://{s3_bucket}/store"


@pytest.fixture
def local_uri(tmp_path: Path) -> str:
    """A store URI in a fresh temporary directory."""
    return str(tmp_path / "store")


@pytest.fixture
def memory_uri() -> str:
    """A store URI on fsspec's in-process memory filesystem."""
    return f"memory://evlog-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["local", "memory", pytest.param("s3", marks=pytest.mark.s3)])
def any_uri(request: pytest.FixtureRequest) -> str:
    """A store URI on each backend in turn: local disk, memory://, and S3 (moto)."""
    fixture = {"local": "local_uri", "memory": "memory_uri", "s3": "s3_uri"}[request.param]
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def free_port() -> int:
    """A loopback TCP port that was free a moment ago (for a server a test starts, or restarts on the same port)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
