"""The dashboard in real headless Chromium (Debian's chromium and chromium-driver, driven by selenium).

`make test-browser` installs them (`scripts/install-chromium.sh`) and runs these; they are marked
`browser` so that `make test` leaves them out. Screenshots go to build/; with
`EVENTLOG_UPDATE_SCREENSHOT=1` the first one also replaces docs/images/ui.png.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from eventlog.ui import UIThread

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[3]
BUILD = ROOT / "build"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium (fails, never skips, when it is not installed: run `make test-browser`)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER), "no chromium/chromedriver: run `make test-browser`"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Poll `condition` (a browser is a separate process: there is no event to wait on) until it is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def table_runs(driver: Any) -> list[str]:
    return driver.execute_script("return [...document.querySelectorAll('#runs-table tbody tr')].map(r => r.dataset.run)")


#: Counts, on every chart's canvas, the pixels close to each of the first two series colours.
COUNT_PIXELS = """
const colours = [[0x1f, 0x77, 0xb4], [0xd6, 0x27, 0x28]];
const counts = [0, 0];
for (const canvas of document.querySelectorAll('#charts canvas')) {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] < 200) continue;
    colours.forEach((c, k) => {
      if (Math.abs(data[i] - c[0]) < 40 && Math.abs(data[i + 1] - c[1]) < 40 && Math.abs(data[i + 2] - c[2]) < 40) counts[k]++;
    });
  }
}
return counts;
"""


def screenshot(driver: Any, name: str) -> Path:
    BUILD.mkdir(exist_ok=True)
    path = BUILD / name
    assert driver.save_screenshot(str(path))
    return path


def test_filter_select_two_runs_and_see_their_curves_drawn(browser: Any, ui: UIThread) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{ui.url}/")
    wait_for(lambda: len(table_runs(browser)) == 5, what="the runs of every experiment")  # two experiments: `*` first
    experiment = browser.find_element(By.ID, "experiment")
    experiment.clear()
    experiment.send_keys("sw*\n")  # a glob over experiment names
    wait_for(lambda: table_runs(browser) == ["sweep:1", "sweep:2", "sweep:3", "sweep:4"], what="sweep's four runs")

    search = browser.find_element(By.ID, "filter")
    search.send_keys("lr>0.005 status=completed")
    wait_for(lambda: table_runs(browser) == ["sweep:2", "sweep:3"], what="the filtered runs")
    assert "2 of 4 runs" in browser.find_element(By.ID, "message").text
    search.clear()
    search.send_keys(" ")  # an input event with a blank filter: every run again
    wait_for(lambda: len(table_runs(browser)) == 4, what="the unfiltered table")

    for run in ("sweep:2", "sweep:3"):  # both 500 steps long: their lines span the whole chart
        browser.find_element(By.CSS_SELECTOR, f'#runs-table tr[data-run="{run}"] td:nth-child(3)').click()
    wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#charts .chart canvas")) >= 2, what="two charts")
    keys = browser.execute_script("return [...document.querySelectorAll('#charts .chart')].map(c => c.dataset.key)")
    assert keys == ["train/loss", "val/acc"]
    blue, red = wait_for(lambda: (c := browser.execute_script(COUNT_PIXELS)) and min(c) > 200 and c, what=f"both runs' lines on the canvas {browser.execute_script(COUNT_PIXELS)}")
    assert blue > 200 and red > 200
    info = browser.find_element(By.ID, "selection-info").text
    assert "2 run(s), 2 key(s)" in info
    legend = browser.find_element(By.CSS_SELECTOR, "#charts .chart .u-legend").text
    assert "sweep:2 trial-1" in legend and "sweep:3 trial-2" in legend
    shot = screenshot(browser, "ui-curves.png")
    if os.environ.get("EVENTLOG_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, ROOT / "docs" / "images" / "ui.png")

    # the chart options redraw: log scale, smoothing, wall-time x axis
    browser.find_element(By.ID, "logscale").click()
    browser.execute_script("const s = document.getElementById('smooth'); s.value = 0.9; s.dispatchEvent(new Event('input'))")
    wait_for(lambda: min(browser.execute_script(COUNT_PIXELS)) > 200, what="the smoothed log-scale lines")
    browser.execute_script("const x = document.getElementById('xaxis'); x.value = 'time'; x.dispatchEvent(new Event('change'))")
    wait_for(lambda: browser.execute_script("return state.charts.size === 2 && state.charts.get('train/loss').series[0].x[0] > 1.6e9"), what="wall time")
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []


def test_a_run_page_shows_params_error_traceback_and_artifacts(browser: Any, ui: UIThread) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{ui.url}/run?experiment=sweep&run=4")
    wait_for(lambda: browser.find_element(By.ID, "stop").is_displayed(), what="the stop section")
    assert "FloatingPointError: loss diverged" in browser.find_element(By.ID, "stop").text
    assert "Traceback" in browser.find_element(By.CSS_SELECTOR, "pre.traceback").text
    browser.get(f"{ui.url}/run?experiment=sweep&run=1")
    wait_for(lambda: "model-0.bin" in browser.find_element(By.ID, "artifacts").text, what="the artifacts")
    assert "optimizer" in browser.find_element(By.ID, "params").text
    wait_for(lambda: "of" in browser.find_element(By.ID, "events-info").text, what="the events table")
    link = browser.find_element(By.LINK_TEXT, "model-0.bin").get_attribute("href")
    assert "api/artifact" in link and "key=model" in link
    screenshot(browser, "ui-run.png")


LOGGER = textwrap.dedent(
    """
    import sys, time, eventlog
    log = eventlog.open(sys.argv[1])
    exp = log.experiment("live")
    exp.start()
    step = 0
    deadline = time.monotonic() + float(sys.argv[2])
    while time.monotonic() < deadline:
        for _ in range(20):
            exp.log_metric("loss", 1.0 / (step + 1), step=step)
            step += 1
        exp.flush()
        print(step, flush=True)
        time.sleep(0.2)
    exp.stop()
    log.close()
    """
)


def test_a_live_run_gains_points_while_another_process_logs(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    uri = str(tmp_path / "live-store")
    writer = subprocess.Popen([sys.executable, "-c", LOGGER, uri, "60"], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None
        writer.stdout.readline()  # the first events are in the store
        with UIThread(uri) as ui:
            browser.get(f"{ui.url}/")
            wait_for(lambda: table_runs(browser) == ["live:1"], what="the live run")
            assert "running" in browser.find_element(By.CSS_SELECTOR, "#runs-table .status").text
            browser.find_element(By.CSS_SELECTOR, '#runs-table tr[data-run="live:1"] td:nth-child(3)').click()
            points = "return state.charts.has('loss') ? state.charts.get('loss').series[0].x.length : 0"
            first = wait_for(lambda: browser.execute_script(points), what="the live curve")
            last_step = "return state.charts.get('loss').series[0].x.at(-1)"
            start = browser.execute_script(last_step)
            wait_for(lambda: browser.execute_script(last_step) > start + 40, timeout=30, what="new points by polling")
            assert browser.execute_script(points) > first
            assert writer.poll() is None  # it was still logging: the page followed it live
            screenshot(browser, "ui-live.png")
    finally:
        writer.terminate()
        writer.communicate(timeout=60)
