"""Regenerate the benchmark tables of the docs from benchmarks/results/*.json.

Every table of figures in docs/performance.md and docs/ui.md sits between `<!-- perf:NAME -->`
and `<!-- /perf:NAME -->` and is written by the function of that name below from the JSON the
benchmark wrote, so the pages never quote a figure their JSON does not hold. Run a benchmark, then:

    .venv/bin/python scripts/perf_tables.py            # rewrite the tables in the docs
    .venv/bin/python scripts/perf_tables.py --check    # exit 1 if a table differs from its JSON

`make test` runs the check (tests/test_perf_tables.py). The prose around the tables (what
changed, what a figure means) is written by hand.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOCS = [ROOT / "docs" / "performance.md", ROOT / "docs" / "ui.md"]

Results = Callable[[str], dict[str, Any]]


def table(header: list[str], rows: Iterable[list[str]], right: int = 1) -> str:
    """A markdown table; every column from index `right` on is right-aligned (numbers)."""
    align = ["---" if i < right else "---:" for i in range(len(header))]
    lines = [header, align, *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def count(n: float) -> str:
    """10000000 -> 10M, 200000 -> 200k, 300 -> 300."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= size and n % size == 0:
            return f"{int(n // size)}{suffix}"
    return f"{int(n):,}"


def mb(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f} MB"


def load(value: float) -> str:
    return f"{value:.2f}"


# -- one function per table ----------------------------------------------------------------------


def write(results: Results) -> str:
    """bench_log.json: µs/event, bytes/event and peak RSS of each contender."""
    rows = []
    for row in results("bench_log")["rows"]:
        name = row["contender"].replace(" @baseline", ", baseline checkout")
        rows.append(
            [
                name,
                count(row["events"]),
                f"{row['us_per_event']:.3f}",
                f"{1e6 / row['us_per_event']:,.0f}",
                f"{row['bytes_per_event']:.2f}",
                mb(row.get("peak_rss_mb")),
                f"{row['ratio_vs_log_metric']:.2f}×",
                load(row.get("median_load_average", row["load_average"])),
            ]
        )
    header = ["contender", "events", "µs/event", "events/s", "bytes/event on disk", "peak RSS", "vs `log_metric`", "load"]
    return table(header, rows)


def value_types(results: Results) -> str:
    """bench_value_types.json: µs per `log_metric` call for each value type."""
    data = results("bench_value_types")
    rows = [[name, f"{r['us_per_call']:.2f} µs", f"{r['ratio_to_float']:.2f}×"] for name, r in data["results"].items()]
    return table(["value type", "µs/call", "vs float"], rows) + f"\n\n(load average {load(data['load_average'])})"


_QUERIES = {
    "summary": "`summary()` over everything (exact quartiles, first/last, latency)",
    "data": '`data(key="train/*", run="*")` on one experiment',
    "runs": "`runs()` of the experiment with 1,000 runs (1M events)",
    "last": "last value per (run, key), everything",
}


def _queries(data: dict[str, Any]) -> str:
    rows = []
    for query, label in _QUERIES.items():
        if query not in data:
            continue
        part = data[query]
        ours, theirs = part["eventlog"], part["duckdb"]
        rows.append(
            [
                label,
                f"{ours['seconds']:.2f} s",
                mb(ours["peak_rss_mb"]),
                f"{theirs['seconds']:.2f} s",
                mb(theirs["peak_rss_mb"]),
                f"**{part['ratio']:.2f}**",
                load(part["load_average"]),
            ]
        )
    return table(["query", "eventlog", "peak RSS", "DuckDB", "peak RSS", "ratio", "load"], rows)


def queries_100m(results: Results) -> str:
    """bench_query_100000000.json: eventlog against DuckDB at 100M events."""
    return _queries(results("bench_query_100000000"))


def queries_10m(results: Results) -> str:
    """bench_query_10000000.json: eventlog against DuckDB at 10M events."""
    return _queries(results("bench_query_10000000"))


def many_runs(results: Results) -> str:
    """bench_many_runs.json: short runs from one process against MLflow's sqlite store."""
    rows = []
    for row in results("bench_many_runs")["rows"]:
        rows.append(
            [
                row["contender"].replace(" @baseline", ", baseline checkout"),
                f"{row['runs']:,}",
                f"{row['total_s']:.1f} s",
                f"{row['ms_per_run']:.2f} ms",
                f"{row['median_ms_first_500']:.2f} ms",
                f"{row['median_ms_last_500']:.2f} ms",
                f"{row['ratio_vs_eventlog']:.1f}×",
                "" if row.get("runs_read_s") is None else f"{row['runs_read_s']:.2f} s",
                "" if row.get("segments") is None else f"{row['segments']:,}",
                load(row["load_average"]),
            ]
        )
    headers = ["contender", "runs", "total", "per run", "first 500", "last 500", "vs eventlog", "`runs()` after", "segments", "load"]
    return table(headers, rows)


def many_files(results: Results) -> str:
    """bench_many_files.json: reads over raw, compacted and collected one-segment runs."""
    data = results("bench_many_files")
    rows = []
    for key, what in (("local", "local `runs()`"), ("s3", "moto S3, one run's `data()`"), ("rgw", "Ceph RGW, one run's `data()`")):
        part = data.get(key)
        if not part:
            continue
        phases = (
            ("raw", what, "raw segments"),
            ("raw_one_run", "local, one run's `data()`", "raw segments"),
            ("dashboard", what, "raw segments, the dashboard's fold after one more run landed"),
            ("compacted", what, f"compacted into {part['compacted_files']} files" if "compacted_files" in part else "compacted"),
            ("collected", what, "compacted, then gc"),
        )
        for phase, read, label in phases:
            row = part.get(phase)
            before = part.get("baseline", data.get("baseline", "baseline"))  # older files name one for all parts
            for suffix, figures in (("", row), (f" (before: {before})", (row or {}).get("baseline"))):
                if figures:
                    rows.append(
                        [read, label + suffix, f"{part['runs']:,}", f"{figures['seconds']:.3f} s", str(figures.get("requests", "")), load(figures["load"])]
                    )
    return table(["read", "files", "segments", "median", "requests", "load"], rows, right=2)


def compaction(results: Results) -> str:
    """bench_compact.json: queries before compaction, after it, and after gc."""
    rows = []
    queries = (
        ("summary", "`summary()`"),
        ("read_summary_columns", "read its 6 columns"),
        ("data_one_run", "one-run `data()`"),
        ("read_one_run", "read that run's rows"),
    )
    for part in results("bench_compact")["results"]:
        store = "local" if part["backend"] == "local" else "moto S3"
        for query, label in queries:
            if query not in part["before"]:
                continue
            before, after = part["before"][query]["seconds"], part["after"][query]["seconds"]
            cells = [store, label, f"{before:.2f} s", f"{after:.2f} s", f"{before / after:.1f}×"]
            if "after_gc" in part:
                collected = part["after_gc"][query]["seconds"]
                cells += [f"{collected:.2f} s", f"{before / collected:.1f}×"]
            rows.append(cells)
    return table(["store", "query", "before", "after", "ratio", "after gc", "ratio"], rows, right=2)


def collector(results: Results) -> str:
    """bench_ingest.json: the collector's throughput and latency, one row per shape, batch and clients."""
    rows = []
    for row in results("bench_ingest")["rows"]:
        if row["contender"] != "collector":
            continue
        rows.append(
            [
                row["shape"],
                f"{row['batch']:,}",
                str(row["clients"]),
                f"{row['events_per_s']:,}",
                f"{row['p50_ms']:.1f}",
                f"{row['p99_ms']:.1f}",
                "" if row["server_rss_mb"] is None else f"{row['server_rss_mb']:.0f}",
                f"{row['ratio']:.2f}",
            ]
        )
    return table(["shape", "batch", "clients", "events/s", "p50 ms", "p99 ms", "server RSS MB", "vs direct"], rows)


def dashboard(results: Results) -> str:
    """ui.json: the dashboard's answers against the naive ones (everything to the client)."""
    data = results("ui")
    rows = []
    for row in data["rows"]:
        naive = f"{row['naive_seconds'] * 1000:,.0f} ms, {row['naive_bytes'] / 1e6:.1f} MB"
        rows.append([row["what"], f"{row['seconds'] * 1000:,.1f} ms, {row['bytes'] / 1000:,.0f} KB", naive])
    if data.get("first_paint_s") is not None:  # measured when Chromium is installed (make test-browser)
        rows.append(["first paint of the 1M-point curve's page in headless Chromium", f"{data['first_paint_s']:.2f} s", ""])
    return table(["what", "dashboard", "naive: everything to the client"], rows, right=3)


def overview(results: Results) -> str:
    """The page's first table: one headline figure per benchmark."""
    log_rows = {r["contender"]: r for r in results("bench_log")["rows"]}
    single, many = log_rows["eventlog log_metric (spool)"], log_rows["eventlog log_metrics (spool)"]
    runs = {r["contender"]: r for r in results("bench_many_runs")["rows"]}
    ours = runs["eventlog"]
    mlflow = runs.get("MLflow sqlite")
    sweep = runs.get("eventlog, flush_on_stop=False")
    crash = results("stress_crash")
    big = results("bench_query_100000000")
    compact = results("bench_compact")["results"][0]
    ingest = max((r for r in results("bench_ingest")["rows"] if r["contender"] == "collector"), key=lambda r: r["events_per_s"])
    many_files = results("bench_many_files")
    files = many_files["local"]
    s3_raw = many_files.get("s3", {}).get("raw")
    rows = [
        [
            "[write path](#write-path)",
            f"`log_metric` {single['us_per_event']:.2f} µs/event, `log_metrics` {many['us_per_event']:.2f} µs/event, until durable; "
            f"{single['bytes_per_event']:.2f} / {many['bytes_per_event']:.2f} bytes/event",
            "`.venv/bin/python benchmarks/bench_log.py`",
        ],
        [
            "[many runs](#many-runs-from-one-process)",
            f"{ours['runs']:,} runs of 20 events from one process in {ours['total_s']:.1f} s"
            + (f", {sweep['total_s']:.1f} s with `flush_on_stop=False`" if sweep else "")
            + (f" (MLflow sqlite: {mlflow['ms_per_run']:.0f} ms per run, {mlflow['ratio_vs_eventlog']:.0f}×)" if mlflow else ""),
            "`.venv/bin/python benchmarks/bench_many_runs.py`",
        ],
        [
            "[many small files](#many-small-files)",
            f"`runs()` of {files['runs']:,} one-segment runs: {files['raw']['seconds']:.2f} s raw, "
            f"{files['compacted']['seconds']:.2f} s compacted"
            + (f", {files['collected']['seconds']:.2f} s after gc" if "collected" in files else "")
            + (f"; one run's `data()` on S3 over the raw segments: {s3_raw['requests']:,} requests" if s3_raw and "requests" in s3_raw else ""),
            "`.venv/bin/python benchmarks/bench_many_files.py`",
        ],
        [
            "[crash safety](#crash-safety)",
            f"{crash['trials']} trials: lost {crash['lost']}, duplicated {crash['duplicated']}; "
            f"recovery {crash['recovery']['recovery_events_per_s'] / 1e6:.1f} M events/s",
            f"`.venv/bin/python benchmarks/stress_crash.py --trials {crash['trials']}`",
        ],
        [
            "[queries at 100M events](#queries)",
            f"`summary()` {big['summary']['ratio']:.2f}× and last value {big['last']['ratio']:.2f}× DuckDB's time on equal work; "
            f"`summary()` in {mb(big['summary']['eventlog']['peak_rss_mb'])} peak RSS against DuckDB's {mb(big['summary']['duckdb']['peak_rss_mb'])}",
            "`.venv/bin/python benchmarks/bench_query.py`",
        ],
        [
            "[compaction](#compaction)",
            f"{compact['compact']['events_per_s'] / 1e6:.2f} M events/s ({count(compact['compact']['events'])} events in "
            f"{compact['compact']['seconds']:.2f} s, {mb(compact['compact']['peak_rss_mb'])} peak RSS)",
            "`.venv/bin/python benchmarks/bench_compact.py`",
        ],
        [
            "[collector](#collector)",
            f"{ingest['events_per_s']:,} events/s with {ingest['clients']} clients sending {ingest['batch']:,}-event batches",
            "`.venv/bin/python benchmarks/bench_ingest.py --size full`",
        ],
    ]
    return table(["what", "figure", "command"], rows, right=3)


TABLES: dict[str, Callable[[Results], str]] = {
    "overview": overview,
    "write": write,
    "value-types": value_types,
    "queries-100m": queries_100m,
    "queries-10m": queries_10m,
    "many-files": many_files,
    "compaction": compaction,
    "collector": collector,
    "many-runs": many_runs,
    "dashboard": dashboard,
}

_BLOCK = re.compile(r"(<!-- perf:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /perf:(?P=name) -->)", re.DOTALL)


def blocks(text: str) -> dict[str, str]:
    """Each perf block of `text`: its name and its body (the table)."""
    return {found["name"]: found["body"] for found in _BLOCK.finditer(text)}


def render(text: str, results_dir: Path = RESULTS) -> str:
    """`text` with every perf block rewritten from the JSON in `results_dir`.

    Raises:
        KeyError: a block names no table function.
        FileNotFoundError: a benchmark's JSON is missing (run the benchmark).
    """

    def results(name: str) -> dict[str, Any]:
        return json.loads((results_dir / f"{name}.json").read_text())

    def rewrite(found: re.Match[str]) -> str:
        return found[1] + TABLES[found["name"]](results) + "\n" + found[4]

    return _BLOCK.sub(rewrite, text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a table differs from its JSON; write nothing")
    args = parser.parse_args()
    stale = []
    for doc in DOCS:
        text = doc.read_text()
        fresh = render(text)
        if fresh == text:
            continue
        stale.append(doc)
        if not args.check:
            doc.write_text(fresh)
    if args.check and stale:
        print(
            f"{', '.join(map(str, stale))}: a table differs from benchmarks/results; run scripts/perf_tables.py", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
