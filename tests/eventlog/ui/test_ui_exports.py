"""eventlog.ui exports on purpose: every name in `__all__` imports, is documented, and is sorted as ruff sorts."""

from __future__ import annotations

import importlib
import inspect

import pytest

MODULES = ["eventlog.ui", "eventlog.ui.app", "eventlog.ui.curves", "eventlog.ui.downsample", "eventlog.ui.encode",
           "eventlog.ui.run_page", "eventlog.ui.runs_filter", "eventlog.ui.runs_view", "eventlog.ui.server"]  # fmt: skip


def _ruff_order(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


@pytest.mark.parametrize("name", MODULES)
def test_every_exported_name_exists_and_has_a_docstring(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__
    assert list(module.__all__) == sorted(module.__all__, key=_ruff_order)
    for exported in module.__all__:
        obj = getattr(module, exported)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{name}.{exported} has no docstring"
