"""The house keeps its shape (DESIGN §0): imports only point down a layer, errors live in one module.

Every module's imports are read from its AST, at module level and inside functions alike (an
import inside a function is still an arrow between layers). There is no allow-list of files.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest

import eventlog
from eventlog import errors

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("eventlog", "ingest", "query")

#: Layer of each package prefix (the longest prefix wins), and what each layer may import.
LAYERS = {
    "eventlog.errors": "base",
    "eventlog.env": "base",
    "eventlog.core": "core",
    "eventlog.compaction": "compaction",
    "ingest": "ingest",
    "query": "query",
    "eventlog.cli": "above",
    "eventlog": "facade",
}
MAY_IMPORT = {
    "base": {"base"},
    "core": {"base", "core"},
    "compaction": {"base", "core", "compaction"},
    "ingest": {"base", "core", "ingest"},
    "query": {"base", "core", "query"},
    "facade": {"base", "core", "compaction", "ingest", "query", "facade"},
    "above": {"base", "core", "compaction", "ingest", "query", "facade", "above"},
}


def layer_of(module: str) -> str | None:
    """The layer of a dotted module name of this project, None for anything else."""
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return LAYERS[prefix]
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, name) for every import in the file, wherever it stands.

    `from X import y` gives `X.y`: `from eventlog import env` imports the base module `eventlog.env`
    (the package `eventlog` itself imports nothing until a facade name is used, PEP 562), while
    `from eventlog import open` imports the facade.
    """
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def test_the_layer_table_covers_every_module() -> None:
    unplaced = [module_name(path) for path in source_modules() if layer_of(module_name(path)) is None]
    assert unplaced == []


def test_imports_only_point_down_a_layer() -> None:
    upward = []
    for path in source_modules():
        importer = module_name(path)
        mine = layer_of(importer)
        assert mine is not None
        for line, target in imported_modules(path):
            theirs = layer_of(target)
            if theirs is not None and theirs not in MAY_IMPORT[mine]:
                upward.append(f"{path.relative_to(ROOT)}:{line}: {mine} imports {target} ({theirs})")
    assert upward == [], "imports that run up a layer:\n" + "\n".join(upward)


def test_the_layer_test_catches_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import eventlog\ndef f():\n    from query import scan\n    import ingest.buffer\n    from eventlog import env\n")
    found = {target for _, target in imported_modules(bad)}
    assert found == {"eventlog", "query.scan", "ingest.buffer", "eventlog.env"}
    assert layer_of("eventlog") not in MAY_IMPORT["core"] and layer_of("eventlog.env") in MAY_IMPORT["core"]
    assert layer_of("query.scan") not in MAY_IMPORT["core"]
    assert layer_of("ingest.buffer") not in MAY_IMPORT["query"]
    assert layer_of("eventlog.log") == "facade" and layer_of("eventlog.core.store") == "core"


def _exception_classes(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ClassDef):
            bases = {ast.unparse(base) for base in node.bases}
            if any(base.endswith(("Error", "Exception", "Warning")) for base in bases):
                yield node.name


def test_every_exception_class_lives_in_errors_py() -> None:
    elsewhere = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in source_modules()
        if path != ROOT / "eventlog" / "errors.py"
        for name in _exception_classes(path)
    }
    assert elsewhere == set()


def test_every_error_derives_from_the_root_and_is_importable_from_eventlog() -> None:
    classes = [obj for _, obj in inspect.getmembers(errors, inspect.isclass) if issubclass(obj, BaseException)]
    assert len(classes) == len(errors.__all__) > 10
    for cls in classes:
        assert issubclass(cls, errors.EventLogError), cls
        assert getattr(eventlog, cls.__name__) is cls
        assert cls.__name__ in eventlog.__all__


@pytest.mark.parametrize("module", ["eventlog.core.store", "eventlog.core.segment", "eventlog.compaction", "ingest", "query"])
def test_importing_a_lower_layer_does_not_import_the_facade(module: str) -> None:
    import subprocess
    import sys

    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m in ('eventlog.log', 'eventlog.experiment')))"
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert printed == "[]"
