"""Import JSON lines (`eventlog import jsonl -`): one event per line, from any producer.

Each line is a JSON object:

```json
{"experiment": "iris", "key": "loss", "value": 0.5, "step": 3, "run": 2, "event": "metric",
 "dt": "2026-11-23T10:00:00Z", "extra": {"tag": "v1"}, "userid": "ada", "node": "gpu-1", "rank": 0}
```

Only `experiment` and `key` are required. `event` defaults to `metric`; `value` may be any JSON
value (numbers go into `value`, anything else is kept as JSON text), and a `value_json` text is
read when `value` is null; `dt` is an ISO 8601 string, or a number of seconds since the epoch
(nanoseconds when larger than 10^14); default now. Any other field is an extra (`"tag": "v1"`,
as `eventlog data --format json` and `eventlog tail --json` write extras), as are the fields of
`extra`. A line may also hold a JSON array of such objects (what `eventlog data --format json`
writes), so both exports read back to the same events.
Lines without `run` go into one new run per experiment (claimed at its first line, with `start`
and `stop` events around it); lines with `run` go into that run as they are. A bad line is
reported (`line 7: ...`) and skipped; every other line is still imported.
"""

from __future__ import annotations

import datetime as _dt
import json
import uuid
from collections.abc import Iterable
from typing import IO, Any

from eventlog.core import run_claims
from eventlog.core.names import validate_experiment, validate_key
from eventlog.core.store import Store
from eventlog.core.values import to_dt_ns
from ingest.importers._writer import EventWriter, ImportReport, Progress

__all__ = ["import_jsonl"]

_NS_THRESHOLD = 10**14
#: Fields of a record that are not extras (`writer`, `seq`, `date` come from exports and are
#: replaced: the import is a new writer; `node` is the machine's, `date` the partition).
_FIELDS = {
    "experiment",
    "run",
    "step",
    "event",
    "key",
    "value",
    "value_json",
    "dt",
    "node",
    "userid",
    "rank",
    "writer",
    "seq",
    "date",
    "extra",
}


def _dt_ns(value: Any) -> int:
    """A record's `dt` in ns: None (now), an ISO 8601 string, or a number (seconds, or ns above 1e14).

    Raises:
        ValueError: anything else, or a string that is not ISO 8601.
    """
    if isinstance(value, str):
        try:
            return to_dt_ns(_dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            raise ValueError(f"'dt' {value!r} is not an ISO 8601 timestamp (e.g. 2025-11-23T10:00:00Z)") from None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = float(value) if abs(value) <= _NS_THRESHOLD else int(value)  # seconds (most JSON writers), or ns
    try:
        return to_dt_ns(value)
    except TypeError:
        raise ValueError(f"'dt' must be an ISO 8601 string or a number, got {value!r}") from None


def _optional_int(record: dict[str, Any], name: str) -> int | None:
    value = record.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name!r} must be an integer, got {value!r}")
    return value


def _strings(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"'extra' must be an object of strings, got {type(value).__name__}")
    return {validate_key(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


def import_jsonl(
    store: Store, stream: IO[str] | IO[bytes] | Iterable[str | bytes], *, progress: Progress | None = None
) -> ImportReport:
    """Import JSON-lines events from `stream` (a file, `sys.stdin`, or any iterable of lines).

    Args:
        store: the target store.
        stream: lines of JSON objects (text or bytes).
        progress: called with a message for each new run and every 100,000 lines.

    Returns:
        An `ImportReport`; `errors` names each bad line (they were skipped).
    """
    report = ImportReport()
    writer_id = f"jsonl-{uuid.uuid4().hex[:16]}"
    out = EventWriter(store, writer_id, report)
    new_runs: dict[str, tuple[int, int, int]] = {}  # experiment -> (run, first dt, last dt) of lines without "run"
    for number, raw in enumerate(stream, 1):
        line = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        if not line.strip():
            continue
        try:
            parsed = json.loads(line)
        except ValueError as exc:
            report.error(f"line {number}: {exc}")
            continue
        records = parsed if isinstance(parsed, list) else [parsed]
        odd = next((r for r in records if not isinstance(r, dict)), None) if isinstance(parsed, list) else None
        if odd is not None:  # an array is one line: all of it is imported, or none
            report.error(
                f"line {number}: expected a JSON object or an array of objects, got an array holding {type(odd).__name__}"
            )
            continue
        for record in records:
            _import_record(store, out, record, number, new_runs, report, progress)
        if progress is not None and number % 100_000 == 0:
            progress(f"jsonl: {number} lines read")
    for experiment, (run, first, last) in new_runs.items():
        info = {"status": "completed", "duration_s": (last - first) / 1e9}
        out.add(experiment, run, "stop", "run", info, dt_ns=last)
    out.flush()
    return report


def _import_record(
    store: Store,
    out: EventWriter,
    record: Any,
    number: int,
    new_runs: dict[str, tuple[int, int, int]],
    report: ImportReport,
    progress: Progress | None,
) -> None:
    """Import one record of line `number`, or report why it cannot be (and skip it)."""
    try:
        if not isinstance(record, dict):
            raise ValueError(f"expected a JSON object, got {type(record).__name__}")
        experiment = validate_experiment(record.get("experiment"))
        key = validate_key(record.get("key"))
        event = record.get("event", "metric")
        if not isinstance(event, str) or not event:
            raise ValueError(f"'event' must be a non-empty string, got {event!r}")
        run = _optional_int(record, "run")
        step = _optional_int(record, "step")
        rank = _optional_int(record, "rank")
        dt_ns = _dt_ns(record.get("dt"))
        extra = {
            **_strings({k: v for k, v in record.items() if k not in _FIELDS and v is not None}),
            **_strings(record.get("extra")),
        }
        userid = str(record.get("userid") or "")
        value = _value(record)
    except (ValueError, TypeError) as exc:
        report.error(f"line {number}: {exc}")
        return
    if run is None:
        run = _new_run(store, out, experiment, dt_ns, new_runs, report, progress, userid)
    out.add(experiment, run, event, key, value, dt_ns=dt_ns, step=step, userid=userid, rank=rank, extra=extra)


def _value(record: dict[str, Any]) -> Any:
    """The record's value: the decoded `value_json` text when there is one (exports write non-numbers,
    and integer params, there), else `value`.

    Raises:
        ValueError: `value_json` is not a JSON text.
    """
    value = record.get("value")
    text = record.get("value_json")
    if text is None:
        return value
    if not isinstance(text, str):
        raise ValueError(f"'value_json' must be a JSON text, got {type(text).__name__}")
    try:
        return json.loads(text)
    except ValueError:
        raise ValueError(f"'value_json' {text[:60]!r} is not valid JSON") from None


def _new_run(
    store: Store,
    out: EventWriter,
    experiment: str,
    dt_ns: int,
    new_runs: dict[str, tuple[int, int, int]],
    report: ImportReport,
    progress: Progress | None,
    userid: str,
) -> int:
    """The run that lines of `experiment` without a `run` go into (claimed at the first such line)."""
    known = new_runs.get(experiment)
    if known is not None:
        run, first, last = known
        new_runs[experiment] = (run, min(first, dt_ns), max(last, dt_ns))
        return run
    run = run_claims.claim_run(store, experiment, writer=out.writer)
    new_runs[experiment] = (run, dt_ns, dt_ns)
    out.add(experiment, run, "start", "run", run, dt_ns=dt_ns, userid=userid, extra={"source": "jsonl"})
    report.runs += 1
    if progress is not None:
        progress(f"jsonl: {experiment} run {run}")
    return run
