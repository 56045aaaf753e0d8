"""Many small files: listings that cost no extra requests, plans chosen by rows rather than files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eventlog.core import manifest
from eventlog.core.store import FileInfo, open_store
from query.scan import FILE_OVERHEAD_BYTES, SMALL_SCAN_BYTES, row_bytes


def test_row_bytes_leave_out_each_files_overhead() -> None:
    tiny = [FileInfo(f"seg/{i}.parquet", 9_300, 0.0) for i in range(10_000)]  # 93 MB of footers
    assert row_bytes(tiny) == 10_000 * (9_300 - FILE_OVERHEAD_BYTES)
    assert row_bytes(tiny) < SMALL_SCAN_BYTES  # read into memory once, not scanned per pass
    assert row_bytes([FileInfo("a.parquet", 100, 0.0)]) == 0
    assert row_bytes([FileInfo("big.parquet", 64 << 20, 0.0)]) == (64 << 20) - FILE_OVERHEAD_BYTES


def test_local_find_lists_as_fsspec_does(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    for path in ("seg/e=a/d/w1/1.parquet", "seg/e=a/d/w2/2.parquet", "seg/e=b/3.parquet", "seg/e=b/4.parquet.tmp"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b"x" * len(path))
    found = store.find("seg")
    assert [f.path for f in found] == ["seg/e=a/d/w1/1.parquet", "seg/e=a/d/w2/2.parquet", "seg/e=b/3.parquet"]
    assert [f.size for f in found] == [len(f.path) for f in found]
    assert all(f.mtime > 0 for f in found)
    assert [f.path for f in store.find("seg", temporary=True)] == ["seg/e=b/4.parquet.tmp"]
    assert [f.path for f in store.find("seg/e=b/3.parquet")] == ["seg/e=b/3.parquet"]
    assert store.find("absent") == []


def test_s3_find_of_an_absent_prefix_is_one_listing(s3_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(s3_uri)
    store.create("seg/e=a/1.parquet", b"data")
    calls: list[str] = []
    original = store.fs.call_s3

    def counting(method: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(method)
        return original(method, *args, **kwargs)

    async def no_head(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("find must not HEAD the prefix")

    monkeypatch.setattr(store.fs, "call_s3", counting)
    monkeypatch.setattr(store.fs, "_info", no_head)
    assert manifest.latest_version(store) == 0  # no manifest yet: one listing, no HEAD
    assert len(calls) == 1
    assert [f.path for f in store.find("seg")] == ["seg/e=a/1.parquet"]
    assert [f.path for f in store.find("seg/e=a")] == ["seg/e=a/1.parquet"]
    assert store.find("seg/e") == []  # a prefix of a name is not a directory
    assert calls == ["list_objects_v2"] * 4
