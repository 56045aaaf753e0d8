"""Import MLflow tracking data through `MlflowClient`: every store MLflow itself reads.

The source is a tracking URI (`sqlite:///mlflow.db`, MLflow 3's default; `http://host:5000`; a
`file://` store) or a path (`mlflow.db` is read as sqlite, a directory as a file store). MLflow's
own client reads it, so the importer follows MLflow's storage formats as they change; it needs
the `importers` extra (`pip install 'eventlog[importers]'`).

Each active MLflow run becomes one eventlog run of the experiment with the same name (characters
an experiment name may not hold become `-`), claimed in order of start time: `start` (with the
run name and MLflow run id as extras), `param`, every point of every metric's history with its
step and time, `tag` (MLflow's own `mlflow.*` tags included) and, for a finished run, `stop`
(`FINISHED` is completed; `FAILED` and `KILLED` are failed).

Re-import is an upsert (see `ingest.importers._writer`): a run that grew since the last import
gains its new metric points and its `stop`, nothing is written twice. A tag whose value changed
in MLflow keeps the value first imported.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eventlog.core import run_claims
from eventlog.core.store import Store
from eventlog.errors import ExtraNotInstalledError
from ingest.importers._writer import (
    EventWriter,
    ImportReport,
    Progress,
    StoredEvents,
    content_index,
    safe_experiment_name,
    stable_seq,
    stable_writer_id,
)

__all__ = ["import_mlflow", "tracking_uri"]

_NS_PER_MS = 1_000_000
_PAGE = 1000
_ENDED = {"FINISHED": "completed", "FAILED": "failed", "KILLED": "failed"}


def tracking_uri(source: str | os.PathLike[str]) -> str:
    """The MLflow tracking URI for `source`: a URI as given, `*.db` as sqlite, a directory as a file store.

    Raises:
        FileNotFoundError: `source` is a path that does not exist.
        ValueError: `source` is a directory without MLflow experiments (no `<id>/meta.yaml`).
    """
    text = os.fspath(source)
    if "://" in text or text.startswith("sqlite:"):
        return text
    path = Path(text).resolve()
    if path.is_file():
        return f"sqlite:///{path}"
    if not path.is_dir():
        raise FileNotFoundError(f"MLflow store {path} does not exist; pass a tracking URI, mlflow.db or the mlruns directory")
    if not any((p / "meta.yaml").is_file() for p in path.iterdir()):
        raise ValueError(f"{path} holds no MLflow experiments (no <id>/meta.yaml); pass the mlruns directory or a tracking URI")
    return path.as_uri()


def import_mlflow(store: Store, source: str | os.PathLike[str], *, progress: Progress | None = None) -> ImportReport:
    """Import every active experiment and run that MLflow's client reads at `source`.

    Args:
        store: the target store.
        source: a tracking URI or a path (see `tracking_uri`).
        progress: called with a one-line message per run.

    Returns:
        An `ImportReport` (`already_present` counts events an earlier import wrote).

    Raises:
        FileNotFoundError, ValueError: `source` is not an MLflow store (see `tracking_uri`).
        ExtraNotInstalledError: MLflow's client is not installed.
    """
    uri = tracking_uri(source)
    report = ImportReport()
    stored = StoredEvents(store, "mlflow-")
    with _file_store_allowed():
        client = _client(uri)
        for experiment in _experiments(client):
            name = safe_experiment_name(experiment.name)
            for run in _runs(client, experiment.experiment_id):
                _import_run(store, client, name, run, stored, report)
                if progress is not None:
                    progress(f"mlflow run {run.info.run_id} -> {name}")
    return report


@contextmanager
def _file_store_allowed() -> Iterator[None]:
    """MLflow 3 refuses file stores unless told; reading a user's existing one is what they asked for."""
    before = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
        else:
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = before


def _client(uri: str) -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        raise ExtraNotInstalledError(
            f"importing from MLflow needs MLflow's client ({exc}); install it with: pip install 'eventlog[importers]'"
        ) from exc
    return MlflowClient(tracking_uri=uri)


def _experiments(client: Any) -> Iterator[Any]:
    from mlflow.entities import ViewType

    token = None
    while True:
        page = client.search_experiments(view_type=ViewType.ACTIVE_ONLY, max_results=_PAGE, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def _runs(client: Any, experiment_id: str) -> Iterator[Any]:
    """The active runs of one experiment, oldest start first (so run numbers follow start time)."""
    from mlflow.entities import ViewType

    token = None
    while True:
        page = client.search_runs(
            [experiment_id],
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=_PAGE,
            order_by=["attributes.start_time ASC"],
            page_token=token,
        )
        yield from page
        token = page.token
        if not token:
            return


def _param_value(text: str) -> Any:
    """MLflow stores params as text; numbers come back as numbers (so runs() shows them numeric)."""
    try:
        number = json.loads(text)
    except ValueError:
        return text
    return number if isinstance(number, (int, float)) and not isinstance(number, bool) else text


def _import_run(store: Store, client: Any, experiment: str, run: Any, stored: StoredEvents, report: ImportReport) -> None:
    info, data = run.info, run.data
    writer = stable_writer_id("mlflow", info.run_id)
    number = run_claims.claim_run(store, experiment, writer=writer, job=f"mlflow:{info.run_id}")
    out = EventWriter(store, writer, report, node="mlflow-import", stored=stored.seqs(experiment, writer))
    user = str(info.user_id or data.tags.get("mlflow.user") or "")
    start_ns = int(info.start_time or 0) * _NS_PER_MS

    def add(event: str, key: str, value: Any, seq: int, *, dt_ns: int = start_ns, **fields: Any) -> None:
        out.add(experiment, number, event, key, value, dt_ns=dt_ns, userid=user, seq=seq, **fields)

    extra = {"source": "mlflow", "mlflow_run_id": info.run_id, "name": str(info.run_name or "")}
    add("start", "run", number, stable_seq("start", "run", 0), extra=extra)
    for key, text in sorted(data.params.items()):
        add("param", key, _param_value(text), stable_seq("param", key, 0))
    for key in sorted(data.metrics):
        history = sorted(client.get_metric_history(info.run_id, key), key=lambda m: (m.timestamp, m.step))
        for index, point in enumerate(history):
            add("metric", key, point.value, stable_seq("metric", key, index), dt_ns=point.timestamp * _NS_PER_MS, step=point.step)
    for key, text in sorted(data.tags.items()):
        add("tag", key, text, stable_seq("tag", key, 0))
    status = _ENDED.get(str(info.status))
    if status is not None and info.end_time:
        stop: dict[str, Any] = {"status": status, "duration_s": (info.end_time - (info.start_time or info.end_time)) / 1000}
        if status != "completed":
            stop["error"] = f"MLflow run {info.status}"
        add(
            "stop",
            "run",
            stop,
            stable_seq("stop", "run", content_index(info.status, info.end_time)),
            dt_ns=info.end_time * _NS_PER_MS,
        )
    out.flush()
    report.runs += 1
