"""The integrations package: importing it costs nothing, and every exported name is documented."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import eventlog.integrations

FRAMEWORKS = ("torch", "lightning", "transformers", "keras", "xgboost", "lightgbm", "optuna", "tensorflow")


def test_importing_eventlog_and_its_integrations_imports_no_framework() -> None:
    code = (
        "import sys, eventlog, eventlog.integrations\n"
        "eventlog.open\n"  # the facade loaded too
        f"print(sorted(m for m in {FRAMEWORKS!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        eventlog.integrations.Nope  # noqa: B018


@pytest.mark.integrations
@pytest.mark.parametrize("name", eventlog.integrations.__all__)
def test_every_exported_name_loads_its_module_and_has_a_docstring(name: str) -> None:
    value = getattr(eventlog.integrations, name)
    assert value.__doc__ and value.__doc__.strip()
    module = importlib.import_module(value.__module__)
    assert module.__doc__ and name in module.__all__
    for attribute in vars(value).values():
        if callable(attribute) and not getattr(attribute, "__name__", "_").startswith("_"):
            assert attribute.__doc__, f"{name}.{attribute.__name__} has no docstring"


def test_all_is_sorted() -> None:
    assert eventlog.integrations.__all__ == sorted(eventlog.integrations.__all__)


@pytest.mark.parametrize(
    ("module", "framework"),
    [("lightning", "lightning"), ("transformers", "transformers"), ("keras", "keras"), ("xgboost", "xgboost"),
     ("lightgbm", "lightgbm"), ("optuna", "optuna")],
)  # fmt: skip
def test_a_missing_framework_is_an_extra_not_installed_error_naming_the_pip_command(module: str, framework: str) -> None:
    code = (
        f"import sys; sys.modules[{framework!r}] = None\n"  # as if it were not installed
        "import eventlog\n"
        "try:\n"
        f"    import eventlog.integrations.{module}\n"
        "except eventlog.ExtraNotInstalledError as exc:\n"
        "    print(isinstance(exc, ImportError), exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("True eventlog.integrations.")
    assert f"pip install {framework}, or pip install 'eventlog[integrations]'" in done.stdout
