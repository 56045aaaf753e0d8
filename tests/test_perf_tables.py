"""docs/performance.md quotes its benchmark figures from benchmarks/results/*.json, never by hand."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import ModuleType

from testkit import load_script


def _script() -> ModuleType:
    return load_script("scripts/perf_tables.py")


def test_the_pages_match_the_benchmark_results() -> None:
    perf = _script()
    found: dict[str, str] = {}
    for doc in perf.DOCS:
        text = doc.read_text()
        assert perf.render(text) == text, f"a table of {doc} differs from its JSON: run .venv/bin/python scripts/perf_tables.py"
        found.update(perf.blocks(text))
    assert sorted(found) == sorted(perf.TABLES)  # every table function has its place on a page
    assert all(body.startswith("| ") for body in found.values()), "an empty or broken table block"


def test_a_new_result_changes_its_table(tmp_path: Path) -> None:
    perf = _script()
    shutil.copytree(perf.RESULTS, tmp_path, dirs_exist_ok=True)
    runs = json.loads((tmp_path / "bench_many_runs.json").read_text())
    ours = next(row for row in runs["rows"] if row["contender"] == "eventlog")
    ours["total_s"] = 12.345
    (tmp_path / "bench_many_runs.json").write_text(json.dumps(runs))
    page = perf.render(perf.DOCS[0].read_text(), tmp_path)
    assert "| 12.3 s |" in page and "in 12.3 s" in page  # the section's table and the overview both follow
