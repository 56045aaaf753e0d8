"""Importers: move existing tracking data into the log (MLflow file stores, TensorBoard event files, JSON lines).

They write through the core (run claims, `Event`s, segments), never through `Log`. MLflow and
TensorBoard imports are idempotent: importing the same source again creates nothing new.
"""

from __future__ import annotations

from ingest.importers._writer import ImportReport
from ingest.importers.jsonl import import_jsonl
from ingest.importers.mlflow import import_mlflow
from ingest.importers.tensorboard import import_tensorboard, read_scalars

__all__ = ["ImportReport", "import_jsonl", "import_mlflow", "import_tensorboard", "read_scalars"]
