"""One contract for every backend (local disk, memory://, S3 on moto): create-if-absent, read, find, delete."""

from __future__ import annotations

import datetime
import threading
from pathlib import Path

import botocore.session
import pytest

from eventlog.core.backends import list_s3, parse_s3_timestamp
from eventlog.core.store import open_store
from eventlog.errors import AlreadyExistsError, StoreUnavailableError


def test_create_then_read_back(any_uri: str) -> None:
    store = open_store(any_uri)
    store.create("a/b/c.bin", b"hello")
    assert store.read("a/b/c.bin") == b"hello"
    assert store.exists("a/b/c.bin")


def test_create_never_overwrites(any_uri: str) -> None:
    store = open_store(any_uri)
    store.create("x", b"first")
    with pytest.raises(AlreadyExistsError) as info:
        store.create("x", b"second")
    assert isinstance(info.value, FileExistsError)
    assert store.read("x") == b"first"


def test_empty_create_is_refused(any_uri: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        open_store(any_uri).create("empty", b"")


def test_find_lists_objects_recursively_with_sizes(any_uri: str) -> None:
    store = open_store(any_uri)
    for path, data in {"p/1": b"a", "p/q/2": b"bb", "other/3": b"ccc"}.items():
        store.create(path, data)
    found = store.find("p")
    assert [f.path for f in found] == ["p/1", "p/q/2"]
    assert [f.size for f in found] == [1, 2]
    assert all(f.mtime > 0 for f in found)
    assert store.find("missing") == []


@pytest.mark.s3
def test_an_s3_listing_follows_every_page_and_skips_directory_placeholders(s3_uri: str) -> None:
    store = open_store(s3_uri)
    paths = [f"seg/w{i}/{i:020d}.parquet" for i in range(7)]
    for path in paths:
        store.create(path, b"x" * 3)
    store.fs.pipe_file(store.full_path("seg/w0/"), b"")  # a console's "folder": a key ending in /
    listed = list(list_s3(store.fs, store.full_path("seg"), page_size=2))  # 4 pages
    assert [full for full, _, _ in listed] == sorted(store.full_path(p) for p in paths)
    assert {size for _, size, _ in listed} == {3}
    assert [f.path for f in store.find("seg")] == sorted(paths)
    assert store.find("seg/w3") == [f for f in store.find("seg") if f.path.startswith("seg/w3/")]


@pytest.mark.parametrize(
    "value",
    ["2026-12-04T15:49:29.656Z", "2026-12-04T15:49:29Z", "2026-12-04T15:49:29.123456Z", "Thu, 04 Dec 2026 15:49:29 GMT", 1764863369, "1764863369.5"],
)
def test_s3_timestamps_parse_as_botocore_parses_them(value: object) -> None:
    from botocore.utils import parse_timestamp

    ours, theirs = parse_s3_timestamp(value), parse_timestamp(value)
    assert ours == theirs and ours.utcoffset() == theirs.utcoffset() == datetime.timedelta(0)


@pytest.mark.s3
def test_an_s3_store_lists_storage_mtimes_through_its_own_timestamp_parser(s3_uri: str) -> None:
    store = open_store(s3_uri)
    store.create("seg/a/1.parquet", b"x")
    [listed] = store.find("seg")
    head = store.fs.info(store.full_path("seg/a/1.parquet"), refresh=True)  # a HEAD: its header's RFC 822 date
    assert abs(listed.mtime - head["LastModified"].timestamp()) < 1.0  # whole seconds in the header
    parsers = store.fs.session.get_component("response_parser_factory")
    assert parsers.create_parser("rest-xml")._timestamp_parser is parse_s3_timestamp
    fresh = botocore.session.get_session().get_component("response_parser_factory")
    assert fresh.create_parser("rest-xml")._timestamp_parser is not parse_s3_timestamp  # other clients keep botocore's


def test_delete_is_idempotent(any_uri: str) -> None:
    store = open_store(any_uri)
    store.create("d/1", b"x")
    store.delete(["d/1", "d/never-existed"])
    assert not store.exists("d/1")
    with pytest.raises(FileNotFoundError):
        store.read("d/1")


def test_racing_creates_have_exactly_one_winner(any_uri: str) -> None:
    store = open_store(any_uri)
    winners: list[int] = []
    barrier = threading.Barrier(8)

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            store.create("race", f"writer {i}".encode())
            winners.append(i)
        except AlreadyExistsError:
            pass

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert store.read("race") == f"writer {winners[0]}".encode()


def test_local_store_leaves_no_temp_files(local_uri: str) -> None:
    store = open_store(local_uri)
    store.create("seg/a.parquet", b"data")
    with pytest.raises(AlreadyExistsError):
        store.create("seg/a.parquet", b"other")
    import os

    assert os.listdir(os.path.join(store.root, "seg")) == ["a.parquet"]


def test_a_local_create_makes_every_new_directory_durable_in_its_parent(local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from eventlog.core import backends
    from tests.support.testkit import record_calls

    store = open_store(local_uri)
    synced = record_calls(monkeypatch, "fsync_dir", backends)
    store.create("seg/experiment=e/date=2026-12-04/w1/00000000000000000000.parquet", b"data")
    root = store.root
    parents = [root, f"{root}/seg", f"{root}/seg/experiment=e", f"{root}/seg/experiment=e/date=2026-12-04"]
    # each new directory's name in its parent (top down), then the file's name in its directory
    assert synced == [*parents, f"{parents[-1]}/w1"]
    synced.clear()
    store.create("seg/experiment=e/date=2026-12-04/w1/00000000000000000020.parquet", b"data")
    assert synced == [f"{parents[-1]}/w1"]  # the directories exist: only the new name
    synced.clear()
    store.create("seg/experiment=e/date=2026-12-04/w2/00000000000000000000.parquet", b"data")
    assert synced == [parents[-1], f"{parents[-1]}/w2"]


@pytest.mark.s3
def test_missing_bucket_is_a_clear_error(s3_endpoint: str) -> None:
    with pytest.raises(StoreUnavailableError, match="bucket 'no-such-bucket' does not exist"):
        open_store("s3://no-such-bucket/x")


def test_unknown_protocol_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="cannot open store"):
        open_store("nosuchproto://x/y")


@pytest.mark.s3
def test_missing_credentials_are_a_clear_error(s3_bucket: str, s3_endpoint: str, tmp_path: object) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=s3_endpoint, AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull,
               AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true")
    code = (
        "import sys\nfrom eventlog.core.store import open_store\nfrom eventlog.errors import StoreUnavailableError\n"
        "try:\n    open_store(sys.argv[1])\nexcept StoreUnavailableError as e:\n    print('ERR', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, f"s3://{s3_bucket}/x"], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.startswith("ERR"), out.stdout + out.stderr
    assert "credentials" in out.stdout.lower()


def test_the_default_store_is_hidden_and_an_old_default_store_is_still_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from eventlog.core.store import DEFAULT_URI, LEGACY_DEFAULT_URI, resolve_uri

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVENTLOG_URI", raising=False)
    assert DEFAULT_URI == "./.eventlog" and resolve_uri(None) == DEFAULT_URI
    (tmp_path / "eventlog").mkdir()  # a directory that holds no store (a package, say) is ignored
    assert resolve_uri(None) == DEFAULT_URI
    (tmp_path / "eventlog" / "seg").mkdir()
    with caplog.at_level("WARNING", logger="eventlog.store"):
        assert resolve_uri(None) == LEGACY_DEFAULT_URI
    assert "mv ./eventlog ./.eventlog" in caplog.text
    (tmp_path / ".eventlog").mkdir()  # once moved (or once a new store exists), the default wins
    assert resolve_uri(None) == DEFAULT_URI
