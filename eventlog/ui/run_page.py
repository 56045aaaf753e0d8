"""A run's page: params, tags, extras, system info, how it stopped, artifacts, and its events.

Everything but the metric values comes from the run's few non-metric events (start, stop,
param, tag, system, artifact); the metrics are their last values. Artifacts are streamed from
the store as they are stored, never unpickled: a download of a pickle is its bytes. Every
reference is checked (`eventlog.core.artifact_refs.check_reference`) before a byte is read, so
a forged event cannot make the dashboard read outside the run's artifact area.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl

import query
from eventlog.core.artifact_refs import check_reference
from eventlog.core.store import Store
from eventlog.errors import UnsafeArtifactError
from eventlog.ui.encode import decode_json_text, frame_payload
from eventlog.ui.runs_view import MAX_PAGE

__all__ = ["CHUNK", "Download", "artifact_download", "events_page", "run_detail"]

#: Bytes read from the store per chunk of a streamed download.
CHUNK = 1 << 20
_META_EVENTS = ["start", "stop", "param", "tag", "system", "artifact"]


def _value(row: dict[str, Any]) -> Any:
    """An event's value: the number, else its decoded JSON."""
    return row["value"] if row.get("value") is not None and row.get("value_json") is None else decode_json_text(row.get("value_json"))


def _artifact_entry(index: int, row: dict[str, Any]) -> dict[str, Any]:
    ref = decode_json_text(row.get("value_json"))
    ref = ref if isinstance(ref, dict) else {}
    entry: dict[str, Any] = {
        "key": row["key"],
        "index": index,
        "format": ref.get("format"),
        "size": ref.get("size"),
        "sha256": ref.get("sha256"),
        "step": row.get("step"),
        "time": row["dt"].timestamp() * 1000 if row.get("dt") is not None else None,
        "filename": ref.get("filename") or ref.get("dirname") or ref.get("name"),
    }
    if ref.get("format") == "dir":
        entry["files"] = [{"relpath": f.get("relpath"), "size": f.get("size")} for f in ref.get("files", []) if isinstance(f, dict)]
    if ref.get("format") == "json":
        entry["data"] = ref.get("data")
    return entry


def run_detail(store: Store, experiment: str, run: int) -> dict[str, Any] | None:
    """Everything the run page shows but the events table; None if the run has no events.

    Args:
        store: the store.
        experiment: the experiment name.
        run: the run number.

    Returns:
        `experiment`, `run`, `summary` (the run's row of `runs()`, as column -> value, times in
        epoch ms), `params`, `tags`, `extras`, `system` (key -> value; heartbeats left out), `stop`
        (the stop event's value: status, error, exception, message, traceback, duration_s; None
        while it runs), `artifacts` (one entry per artifact event, with `index` for downloads)
        and `metrics` (key -> {value, step, time}).
    """
    table = query.runs(store, experiment, run=run)
    if table.height == 0:
        return None
    summary_payload = frame_payload(table.head(1))
    summary = dict(zip(summary_payload["columns"], summary_payload["rows"][0]))
    meta = query.data(store, experiment, run=run, event=_META_EVENTS)
    assert isinstance(meta, pl.DataFrame)
    params: dict[str, Any] = {}
    tags: dict[str, Any] = {}
    system: dict[str, Any] = {}
    stop: Any = None
    artifacts: list[dict[str, Any]] = []
    extras = [c for c in meta.columns if c not in query.DATA_COLUMNS]
    extra_values: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for row in meta.iter_rows(named=True):
        kind = row["event"]
        if kind == "param":
            params[row["key"]] = _value(row)
        elif kind == "tag":
            tags[row["key"]] = _value(row)
        elif kind == "system" and row["key"] != "heartbeat":
            system[row["key"]] = _value(row)
        elif kind == "stop":
            stop = _value(row)
        elif kind == "artifact":
            index = counts.get(row["key"], 0)
            counts[row["key"]] = index + 1
            artifacts.append(_artifact_entry(index, row))
        for name in extras:
            if row.get(name) is not None:
                extra_values[name] = row[name]
    last = query.last_values(store, experiment, run=run)
    metrics = {
        key: {"value": value, "step": step, "time": dt.timestamp() * 1000 if dt is not None else None}
        for key, value, step, dt in last.select("key", "value", "step", "dt").iter_rows()
    }
    return {
        "experiment": experiment,
        "run": run,
        "summary": summary,
        "params": params,
        "tags": tags,
        "extras": extra_values,
        "system": system,
        "stop": stop,
        "artifacts": artifacts,
        "metrics": metrics,
    }


def events_page(
    store: Store,
    experiment: str,
    run: int,
    *,
    event: str | None = None,
    key: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> dict[str, Any]:
    """One page of a run's events in time order, as `/api/events` returns it.

    Args:
        store: the store.
        experiment: the experiment name.
        run: the run number.
        event: an event kind or glob (None: all).
        key: a key or glob (None: all).
        offset: the first event of the page.
        limit: events per page (at most `MAX_PAGE`).

    Returns:
        `columns`, `types`, `rows` (times in epoch ms), `total` (matching events), `offset`, `limit`.

    Raises:
        ValueError: a negative offset or a limit outside 1..MAX_PAGE.
        InvalidFilterError: a regex that does not compile.
    """
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"offset must be >= 0 and limit between 1 and {MAX_PAGE}; got offset={offset}, limit={limit}")
    lazy = query.data(store, experiment, run=run, event=event or None, key=key or None, lazy=True)
    assert isinstance(lazy, pl.LazyFrame)
    total = lazy.select(pl.len()).collect().item()
    page = lazy.slice(offset, limit).collect()
    payload = frame_payload(page.drop("experiment", "run"))
    payload.update(total=total, offset=offset, limit=limit)
    return payload


@dataclass(frozen=True)
class Download:
    """What an artifact download sends: a file name, a media type, and the bytes (streamed)."""

    filename: str
    media_type: str
    size: int | None
    chunks: Iterator[bytes]


def _stream(store: Store, path: str) -> Iterator[bytes]:
    """The object at `path` in chunks of `CHUNK` bytes (ranged reads: never all in memory)."""
    with store.fs.open(store.full_path(path), "rb", block_size=CHUNK, cache_type="none") as source:
        while True:
            chunk = source.read(CHUNK)
            if not chunk:
                return
            yield chunk


def artifact_download(store: Store, experiment: str, run: int, key: str, *, index: int = -1, file: str | None = None) -> Download | None:
    """The payload of artifact `key` of a run, ready to stream; None if there is no such artifact.

    Args:
        store: the store.
        experiment: the experiment name.
        run: the run number.
        key: the artifact's name.
        index: which of the artifacts logged under `key` (0 the first, -1 the latest).
        file: for a directory artifact, the relative path of one of its files.

    Returns:
        The download, or None (no such artifact, index or file).

    Raises:
        UnsafeArtifactError: the reference points outside the run's artifact area.
        ValueError: a directory artifact without `file`.
    """
    frame = query.data(store, experiment, run=run, event="artifact", key=key)
    assert isinstance(frame, pl.DataFrame)
    refs = [text for text in frame["value_json"].to_list() if text is not None]
    if not refs or not -len(refs) <= index < len(refs):
        return None
    ref = check_reference(json.loads(refs[index]), experiment, run)
    kind = ref.get("format")
    if kind == "json":
        data = json.dumps(ref.get("data"), ensure_ascii=False, indent=2).encode()
        return Download(f"{key}.json", "application/json", len(data), iter([data]))
    if kind == "dir":
        if file is None:
            raise ValueError(f"artifact {key!r} is a directory: add file=<relative path> (one of its files)")
        entry = next((f for f in ref.get("files", []) if f.get("relpath") == file), None)
        if entry is None:
            return None
        return Download(file.rsplit("/", 1)[-1], "application/octet-stream", entry.get("size"), _stream(store, entry["path"]))
    if kind in ("file", "pickle"):
        name = ref.get("filename") or f"{key}.pkl"
        return Download(str(name), "application/octet-stream", ref.get("size"), _stream(store, ref["path"]))
    raise UnsafeArtifactError(f"artifact {key!r}: unknown format {kind!r}; not served")
