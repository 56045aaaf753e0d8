"""Fixtures of the framework integration tests (`pytest -m integrations`, `make test-integrations`).

Each test trains a tiny real model on CPU with the real framework, then reads the store back.
The frameworks' own warnings (few workers, a small dataset, deprecations in their code) are not
eventlog's defects: the suite turns warnings into errors, so those are let through here by module.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras 3 without TensorFlow
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Let the frameworks' own warnings through (by the module that issues them), in these tests only."""
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            for module in ("lightning", "pytorch_lightning", "torch", "transformers", "keras", "xgboost", "lightgbm", "optuna", "accelerate"):
                item.add_marker(pytest.mark.filterwarnings(f"ignore::Warning:{module}.*"))


#: The framework each test module needs (the `integrations` extra).
FRAMEWORKS = {
    "test_lightning.py": "lightning",
    "test_transformers.py": "transformers",
    "test_keras.py": "keras",
    "test_xgboost.py": "xgboost",
    "test_lightgbm.py": "lightgbm",
    "test_optuna.py": "optuna",
    "test_tensors.py": "torch",
}


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Leave a module out when its framework is not installed and the run does not select
    `integrations` (`make test`); when it does (`make test-integrations`), a missing framework is an
    import error, never a silent skip."""
    framework = FRAMEWORKS.get(collection_path.name)
    if framework is None or _installed(framework):
        return None
    selects = re.sub(r"not\s+integrations\b", "", config.option.markexpr or "")
    return True if not re.search(r"\bintegrations\b", selects) else None


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ValueError:  # blocked with sys.modules[module] = None
        return False
