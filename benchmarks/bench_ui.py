"""Dashboard benchmark (`eventlog ui`): what the server answers, and how fast, beside the naive answer.

Seeded data, written straight as segment files in the real store layout:

- experiment `sweep`: RUNS runs (10,000), each with a start, 3 params, a name tag, KEYS metric keys
  x STEPS steps and a stop (85% completed, 10% failed, 5% still without a stop), 100 runs per segment;
- experiment `long`: one run with a POINTS-step (1M) metric `loss`, with a one-step spike.

Then, against a real dashboard on loopback (`eventlog.ui.UIThread`, httpx as the client), the
median of REPEAT requests:

1. the runs table of 10,000 runs: the first page (100 rows) on a cold cache (the fold), a
   filtered and sorted page on the warm cache, and the first page of a dashboard that folded at
   start (as `eventlog ui` does); naive: the whole table as one JSON array of records;
2. one 1M-point curve at 1,000 px (`/api/curves`, ~2 points per pixel, min and max kept);
   naive: every point as JSON, read by `query.data` and encoded the same way;
3. if Chromium and selenium are installed (`make test-browser`): time to first paint of the
   curves page in headless Chromium (page load until the chart's canvas is drawn).

    .venv/bin/python benchmarks/bench_ui.py                  # 10,000 runs, 1M points
    .venv/bin/python benchmarks/bench_ui.py --runs 1000 --points 100000   # quick

Data is generated once into `--root` (default /tmp/eventlog-bench-ui-<runs>-<points>) and reused.
Prints a table (ratio = naive / dashboard) and writes benchmarks/results/ui.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from _common import peak_rss_mb

RESULTS = Path(__file__).parent / "results"
RUNS = 10_000
RUNS_PER_SEGMENT = 100
KEYS = [f"train/m{k}" for k in range(5)] + [f"val/m{k}" for k in range(5)]
STEPS = 20
POINTS = 1_000_000
POINTS_PER_SEGMENT = 100_000
WIDTH = 1000
REPEAT = 5
MARKER = "_generated.json"
DAY0 = 1_767_225_600 * 10**6  # 2026-01-01, in microseconds


def _table(rows: dict[str, list[Any]], writer: str) -> Any:
    """A segment's pyarrow table from column lists (node, userid, rank, writer, extra filled in)."""
    import pyarrow as pa

    from eventlog.core.event import arrow_schema

    total = len(rows["run"])
    arrays = []
    for field in arrow_schema():
        name = field.name
        if name in rows:
            arrays.append(pa.array(rows[name], pa.int64() if name == "dt" else None).cast(field.type))
        elif name == "node":
            arrays.append(pa.array([f"node{zlib.crc32(writer.encode()) % 8}"] * total, field.type))
        elif name == "userid":
            arrays.append(pa.array(["alice"] * total, field.type))
        elif name == "writer":
            arrays.append(pa.array([writer] * total, field.type))
        elif name == "rank":
            arrays.append(pa.nulls(total, field.type))
        elif name == "seq":
            arrays.append(pa.array(np.arange(total, dtype=np.int64)))
        else:  # extra
            arrays.append(pa.array([[]] * total, field.type))
    return pa.Table.from_arrays(arrays, schema=arrow_schema())


def _write(root: Path, experiment: str, writer: str, first_dt: int, rows: dict[str, list[Any]]) -> None:
    from eventlog.core.layout import date_of_ns, segment_path
    from eventlog.core.segment import encode_table

    path = root / segment_path(experiment, date_of_ns(first_dt * 1000), writer, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_table(_table(rows, writer)))


def _sweep_segment(root: Path, block: int, runs: list[int]) -> None:
    rng = np.random.default_rng(block)
    rows: dict[str, list[Any]] = {name: [] for name in ("run", "step", "event", "key", "value", "value_json", "dt")}

    def add(run: int, step: int | None, event: str, key: str, value: float | None, text: str | None, dt: int) -> None:
        for name, item in zip(rows, (run, step, event, key, value, text, dt)):
            rows[name].append(item)

    for run in runs:
        t0 = DAY0 + run * 60_000_000
        add(run, None, "start", "run", float(run), None, t0)
        lr = float(rng.choice([0.1, 0.01, 0.001]))
        batch = int(rng.choice([32, 64, 128]))
        add(run, None, "param", "lr", lr, json.dumps(lr), t0 + 1)
        add(run, None, "param", "batch", float(batch), json.dumps(batch), t0 + 2)
        add(run, None, "param", "optimizer", None, json.dumps(str(rng.choice(["adam", "sgd"]))), t0 + 3)
        add(run, None, "tag", "name", None, json.dumps(f"trial-{run}"), t0 + 4)
        for step in range(STEPS):
            for k, key in enumerate(KEYS):
                decay = float(np.exp(-step / STEPS * 3))
                add(run, step, "metric", key, (decay if k < 5 else 1 - decay) + 0.05 * float(rng.standard_normal()), None, t0 + 10 + step * 1000 + k)
        status = rng.choice(["completed", "failed", "none"], p=[0.85, 0.10, 0.05])
        if status != "none":
            info: dict[str, Any] = {"status": str(status), "duration_s": 30.0}
            if status == "failed":
                info.update(error="ValueError: diverged", exception="ValueError", message="diverged")
            add(run, None, "stop", "run", None, json.dumps(info), t0 + 30_000_000)
    _write(root, "sweep", f"sweep-w{block:04d}", DAY0, rows)


def _long_segments(root: Path, points: int) -> None:
    rng = np.random.default_rng(7)
    steps = np.arange(points, dtype=np.int64)
    values = np.exp(-steps / points * 4) + 0.02 * rng.standard_normal(points)
    values[points // 3] = 25.0  # one step of divergence: it must stay visible
    t0 = DAY0
    _write(root, "long", "long-w0000", t0, {
        "run": [1], "step": [None], "event": ["start"], "key": ["run"], "value": [1.0], "value_json": [None], "dt": [t0],
    })  # fmt: skip
    for index, start in enumerate(range(0, points, POINTS_PER_SEGMENT)):
        part = slice(start, min(points, start + POINTS_PER_SEGMENT))
        n = part.stop - part.start
        _write(root, "long", f"long-w{index + 1:04d}", t0, {
            "run": [1] * n, "step": steps[part].tolist(), "event": ["metric"] * n, "key": ["loss"] * n,
            "value": values[part].tolist(), "value_json": [None] * n, "dt": (t0 + 1000 + steps[part] * 1000).tolist(),
        })  # fmt: skip


def generate(root: Path, runs: int, points: int) -> dict[str, Any]:
    """Write both experiments under `root` unless they are already there; returns a description."""
    marker = root / MARKER
    if marker.exists():
        return dict(json.loads(marker.read_text()))
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    started = time.perf_counter()
    numbers = list(range(1, runs + 1))
    for block, first in enumerate(range(0, runs, RUNS_PER_SEGMENT)):
        _sweep_segment(root, block, numbers[first : first + RUNS_PER_SEGMENT])
    _long_segments(root, points)
    info = {"runs": runs, "points": points, "seconds": round(time.perf_counter() - started, 1)}
    marker.write_text(json.dumps(info))
    return info


def timed(call: Any, repeat: int = REPEAT) -> tuple[float, Any]:
    """(median seconds over `repeat` calls, the last result)."""
    seconds = []
    result = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def first_paint(url: str) -> float | None:
    """Seconds from loading the curves page of `long:1` in headless Chromium until its chart is drawn (None: no browser)."""
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None
    if not chromium or not driver_path:
        return None
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        times = []
        for _ in range(3):
            driver.get("about:blank")
            started = time.perf_counter()
            driver.get(f"{url}/#experiment=long&runs=long:1&key=loss")
            while not driver.execute_script("return typeof state !== 'undefined' && state.charts.size > 0 && !!document.querySelector('#charts canvas')"):
                time.sleep(0.01)
            times.append(time.perf_counter() - started)
        return statistics.median(times)
    finally:
        driver.quit()


def main() -> None:
    """Generate the data if needed, measure the dashboard and the naive answers, print and save the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--points", type=int, default=POINTS)
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument("--no-browser", action="store_true", help="skip the time to first paint in Chromium")
    args = parser.parse_args()
    root = args.root or Path(f"/tmp/eventlog-bench-ui-{args.runs}-{args.points}")
    info = generate(root, args.runs, args.points)
    print(f"data: {info['runs']:,} runs in `sweep`, a {info['points']:,}-step curve in `long`, under {root}")

    import httpx

    import query
    from eventlog.ui import UIThread
    from eventlog.ui.encode import encode

    rows: list[dict[str, Any]] = []
    with UIThread(str(root)) as ui, httpx.Client(base_url=ui.url, timeout=120) as http:
        started = time.perf_counter()
        cold = http.get("/api/runs", params={"experiment": "sweep", "limit": 100})
        cold_s = time.perf_counter() - started
        assert cold.status_code == 200 and cold.json()["total"] == args.runs, cold.text[:300]
        params = {"experiment": "sweep", "q": "lr>=0.01 status=completed", "sort": "-metric.val/m0", "limit": 100}
        warm_s, warm = timed(lambda: http.get("/api/runs", params=params))
        naive_table_s, naive_table = timed(lambda: query.runs(str(root), "sweep").write_json().encode(), repeat=3)
        rows.append({"what": f"runs table, {args.runs:,} runs: first page, cold (fold)", "seconds": cold_s, "bytes": len(cold.content),
                     "naive_seconds": naive_table_s, "naive_bytes": len(naive_table)})  # fmt: skip
        rows.append({"what": "runs table: filtered + sorted page, warm", "seconds": warm_s, "bytes": len(warm.content),
                     "naive_seconds": naive_table_s, "naive_bytes": len(naive_table)})  # fmt: skip
        with UIThread(str(root), warm_up=True) as served:  # what `eventlog ui` does: fold the first table at start
            served.app.state.warming.join()
            started = time.perf_counter()
            first = httpx.get(f"{served.url}/api/runs", params={"experiment": "*", "limit": 100}, timeout=120)
            first_s = time.perf_counter() - started
        rows.append({"what": "runs table: first page after `eventlog ui` warmed up", "seconds": first_s, "bytes": len(first.content),
                     "naive_seconds": naive_table_s, "naive_bytes": len(naive_table)})  # fmt: skip

        curve_params = {"run": "long:1", "key": "loss", "width": WIDTH}
        curve_s, curve = timed(lambda: http.get("/api/curves", params=curve_params))
        series = curve.json()["series"][0]
        assert max(series["y"]) == 25.0, "the spike was lost"

        def naive_curve() -> bytes:
            frame = query.data(str(root), "long", run=1, event="metric", key="loss")
            return encode({"x": frame["step"].to_list(), "y": frame["value"].to_list()})

        naive_curve_s, naive = timed(naive_curve, repeat=3)
        rows.append({"what": f"curve, {args.points:,} points at {WIDTH} px ({len(series['x'])} sent, spike kept)", "seconds": curve_s,
                     "bytes": len(curve.content), "naive_seconds": naive_curve_s, "naive_bytes": len(naive)})  # fmt: skip
        paint = None if args.no_browser else first_paint(ui.url)

    print(f"{'':<66} {'dashboard':>20} {'naive (all to client)':>24}")
    print(f"{'what':<66} {'ms':>9} {'KB':>10} {'ms':>12} {'KB':>11} {'bytes ratio':>12}")
    for row in rows:
        print(f"{row['what']:<66} {row['seconds'] * 1000:>9.1f} {row['bytes'] / 1024:>10.1f} "
              f"{row['naive_seconds'] * 1000:>12.1f} {row['naive_bytes'] / 1024:>11.1f} {row['naive_bytes'] / row['bytes']:>11.0f}x")  # fmt: skip
    print(f"time to first paint of the 1M-point curves page in headless Chromium: {'not measured (no chromium/selenium)' if paint is None else f'{paint:.2f} s'}")
    RESULTS.mkdir(exist_ok=True)
    results = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "data": info,
        "rows": rows,
        "first_paint_s": paint,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "targets": {"runs_table_s": 1.0, "curve_s": 0.3, "curve_bytes": 100_000, "first_paint_s": 2.0},
    }
    (RESULTS / "ui.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
