"""Fixtures for the integration tests: a store on Ceph's S3 gateway (radosgw), started by `make test-integration`.

`scripts/test-integration.sh` starts radosgw on 127.0.0.1 and exports `RGW_ENDPOINT`; these
tests fail (never skip) without it, and `make test` deselects them (`-m "not integration"`).
"""

from __future__ import annotations

import os
import uuid

import pytest


@pytest.fixture(scope="session")
def rgw_endpoint() -> str:
    """The radosgw endpoint exported by scripts/test-integration.sh."""
    endpoint = os.environ.get("RGW_ENDPOINT")
    if not endpoint:
        pytest.fail("RGW_ENDPOINT is not set: run the integration tests with `make test-integration`")
    return endpoint


@pytest.fixture
def rgw_uri(rgw_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A store URI in a fresh bucket on radosgw; AWS_ENDPOINT_URL points at it (also for subprocesses)."""
    import boto3

    key = os.environ.get("RGW_ACCESS_KEY", "testing")
    secret = os.environ.get("RGW_SECRET_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", rgw_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    bucket = f"evlog-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=rgw_endpoint, aws_access_key_id=key, aws_secret_access_key=secret)
    client.create_bucket(Bucket=bucket)
    client.close()  # its connection pool would otherwise be collected open (a ResourceWarning)
    return f"s3://{bucket}/store"
