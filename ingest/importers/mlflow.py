"""Import an MLflow file store (`mlruns/`): experiments, runs, params, metrics with steps and times, tags.

The file store layout read here (MLflow 1.x to 3.x):

```
<root>/<experiment id>/meta.yaml                      name, lifecycle_stage
<root>/<experiment id>/<run id>/meta.yaml             run_name, start_time, end_time (ms), status, user_id
<root>/<experiment id>/<run id>/params/<key>          the value as text
<root>/<experiment id>/<run id>/metrics/<key>         lines "<timestamp ms> <value> <step>"
<root>/<experiment id>/<run id>/tags/<key>            the value as text
```

Each MLflow run becomes one eventlog run of the experiment with the same name (characters an
experiment name may not hold become `-`): `start`, `param`, `metric`, `tag` and (for a finished
run) `stop` events. The run number is claimed with the MLflow run id as job id, and the writer id
derives from it, so importing the same store twice creates nothing new. Deleted runs and
experiments are skipped. MLflow itself is not needed to read the files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from eventlog.core import run_claims
from eventlog.core.store import Store
from ingest.importers._writer import EventWriter, ImportReport, Progress, safe_experiment_name, stable_writer_id

__all__ = ["import_mlflow"]

_NS_PER_MS = 1_000_000
# MLflow's RunStatus enum as stored in meta.yaml (older stores write the name instead).
_STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}


def _read_meta(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    try:
        import yaml
    except ImportError:  # pyyaml comes with MLflow; without it, read the flat `key: value` lines
        return _flat_yaml(text)
    loaded = yaml.safe_load(text)
    return loaded if isinstance(loaded, dict) else {}


def _flat_yaml(text: str) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for line in text.splitlines():
        if ":" not in line or line.startswith((" ", "-", "#")):
            continue
        key, _, raw = line.partition(":")
        raw = raw.strip()
        if len(raw) >= 2 and raw[0] == raw[-1] == "'":
            meta[key] = raw[1:-1].replace("''", "'")
        elif raw.lstrip("-").isdigit():
            meta[key] = int(raw)
        else:
            meta[key] = None if raw in ("", "null", "~") else raw
    return meta


def _param_value(text: str) -> Any:
    """MLflow stores params as text; numbers come back as numbers (so runs() shows them numeric)."""
    try:
        number = json.loads(text)
    except ValueError:
        return text
    return number if isinstance(number, (int, float)) and not isinstance(number, bool) else text


def _files(directory: Path) -> list[tuple[str, Path]]:
    """(key, file) for every file under `directory`; nested directories are `/` in keys (`train/loss`)."""
    if not directory.is_dir():
        return []
    found = []
    for base, _dirs, names in os.walk(directory):
        for name in names:
            full = Path(base) / name
            found.append((full.relative_to(directory).as_posix(), full))
    return sorted(found)


def import_mlflow(store: Store, path: str | os.PathLike[str], *, progress: Progress | None = None) -> ImportReport:
    """Import every experiment and run of the MLflow file store at `path`.

    Args:
        store: the target store.
        path: the file store root (the `mlruns` directory, or a `file://` URI).
        progress: called with a one-line message per run.

    Returns:
        An `ImportReport`.

    Raises:
        FileNotFoundError: `path` is not a directory.
        ValueError: `path` does not look like an MLflow file store (no experiment `meta.yaml`).
    """
    root = Path(str(path).removeprefix("file://"))
    if not root.is_dir():
        raise FileNotFoundError(f"MLflow store {root} is not a directory; pass the `mlruns` directory")
    experiments = sorted(p for p in root.iterdir() if (p / "meta.yaml").is_file() and not p.name.startswith("."))
    if not experiments:
        raise ValueError(f"{root} holds no MLflow experiments (no <id>/meta.yaml); pass the `mlruns` directory")
    report = ImportReport()
    for exp_dir in experiments:
        meta = _read_meta(exp_dir / "meta.yaml")
        if meta.get("lifecycle_stage") == "deleted":
            report.skipped += 1
            continue
        name = safe_experiment_name(str(meta.get("name") or exp_dir.name))
        for run_dir in sorted(p for p in exp_dir.iterdir() if (p / "meta.yaml").is_file()):
            _import_run(store, name, run_dir, report, progress)
    return report


def _import_run(store: Store, experiment: str, run_dir: Path, report: ImportReport, progress: Progress | None) -> None:
    meta = _read_meta(run_dir / "meta.yaml")
    if meta.get("lifecycle_stage") == "deleted":
        report.skipped += 1
        return
    run_id = str(meta.get("run_id") or meta.get("run_uuid") or run_dir.name)
    writer = stable_writer_id("mlflow", run_id)
    run = run_claims.claim_run(store, experiment, writer=writer, job=f"mlflow:{run_id}")
    tags = {key: file.read_text(encoding="utf-8") for key, file in _files(run_dir / "tags")}
    user = str(meta.get("user_id") or tags.get("mlflow.user") or "")
    start_ns = int(meta.get("start_time") or 0) * _NS_PER_MS
    out = EventWriter(store, writer, report, node="mlflow-import")
    extra = {"source": "mlflow", "mlflow_run_id": run_id, "name": str(meta.get("run_name") or tags.get("mlflow.runName") or "")}
    out.add(experiment, run, "start", "run", run, dt_ns=start_ns, userid=user, extra=extra)
    for key, file in _files(run_dir / "params"):
        out.add(experiment, run, "param", key, _param_value(file.read_text(encoding="utf-8")), dt_ns=start_ns, userid=user)
    for key, file in _files(run_dir / "metrics"):
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            try:
                timestamp, value = int(parts[0]), float(parts[1])
                step = int(parts[2]) if len(parts) > 2 else 0
            except (ValueError, IndexError):
                report.error(f"{file}:{number}: not '<timestamp> <value> <step>': {line[:80]!r}")
                continue
            out.add(experiment, run, "metric", key, value, dt_ns=timestamp * _NS_PER_MS, step=step, userid=user)
    for key, text in tags.items():
        out.add(experiment, run, "tag", key, text, dt_ns=start_ns, userid=user)
    status = meta.get("status")
    status_name = _STATUS.get(status, str(status)) if isinstance(status, int) else str(status or "")
    end = meta.get("end_time")
    if end and status_name in ("FINISHED", "FAILED", "KILLED"):
        info: dict[str, Any] = {"status": "completed" if status_name == "FINISHED" else "failed"}
        if status_name != "FINISHED":
            info["error"] = f"MLflow run {status_name}"
        info["duration_s"] = (int(end) - int(meta.get("start_time") or end)) / 1000
        out.add(experiment, run, "stop", "run", info, dt_ns=int(end) * _NS_PER_MS, userid=user)
    out.flush()
    report.runs += 1
    if progress is not None:
        progress(f"mlflow run {run_id} -> {experiment} run {run}")
