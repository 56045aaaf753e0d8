"""Every exported name imports and is documented; the facade matches DESIGN §10."""

from __future__ import annotations

import importlib
import inspect

import pytest


def _isort_style(name: str) -> tuple[int, str]:
    """ruff's order for `__all__` (RUF022): CONSTANTS, then Classes, then functions, each sorted."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


PACKAGES = ["eventlog", "eventlog.core", "eventlog.compaction", "eventlog.cli", "ingest", "query"]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_exists_and_has_a_docstring(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__doc__
    assert list(module.__all__) == sorted(module.__all__, key=_isort_style), f"{package}.__all__ is not sorted"
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{package}.{name} has no docstring"


def test_contract_methods_exist() -> None:
    import eventlog

    for name in ["open", "experiment", "track_this", "Log", "Experiment"]:
        assert hasattr(eventlog, name)
    for name in ["experiment", "experiments", "close", "compact", "recover", "flush"]:
        assert callable(getattr(eventlog.Log, name))
    for name in [
        "start", "stop", "use", "status", "log_metric", "log_metrics", "log_param", "log_params", "log_event",
        "log_artifact", "log_system", "log_extra", "flush", "data", "summary", "runs", "restore_artifacts", "clear",
    ]:
        assert inspect.getdoc(getattr(eventlog.Experiment, name)), name
