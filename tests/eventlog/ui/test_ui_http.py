"""The dashboard's HTTP API over real loopback HTTP against a real filled store: shapes, filters,
downsampling that keeps the extremes, the token, the Host check, live updates, and no write ever."""

from __future__ import annotations

import json
import math
from pathlib import Path

import httpx
import pytest

import eventlog
from eventlog.errors import UserError
from eventlog.ui import UIThread
from eventlog.ui.server import check_bind, open_read_only

from .conftest import DIP, DIP_STEP, LONG_STEPS, SPIKE, SPIKE_STEP, fill, tree_state


@pytest.fixture
def client(ui: UIThread) -> httpx.Client:
    with httpx.Client(base_url=ui.url, timeout=30) as http:
        yield http


def rows_of(table: dict) -> list[dict]:
    return [dict(zip(table["columns"], row)) for row in table["rows"]]


def test_experiments_are_listed(client: httpx.Client) -> None:
    assert client.get("/api/experiments").json() == {"experiments": ["other", "sweep"]}
    assert client.get("/api/experiments", params={"pattern": "sw*"}).json() == {"experiments": ["sweep"]}
    info = client.get("/api/info").json()
    assert info["read_only"] is True and info["store"].endswith("store")


def test_the_runs_table_has_status_times_params_last_metrics_and_tags(client: httpx.Client) -> None:
    table = client.get("/api/runs", params={"experiment": "sweep"}).json()
    assert table["total"] == table["matched"] == 4
    for column in ("experiment", "run", "status", "start", "end", "duration_s", "node", "userid", "error",
                   "param.lr", "param.layers", "param.optimizer", "metric.train/loss", "metric.val/acc", "tag.name"):  # fmt: skip
        assert column in table["columns"], column
    kinds = dict(zip(table["columns"], table["types"]))
    assert kinds["start"] == "time" and kinds["param.lr"] == "number" and kinds["status"] == "text"
    runs = {row["run"]: row for row in rows_of(table)}
    assert [runs[n]["status"] for n in (1, 2, 3, 4)] == ["completed", "completed", "completed", "failed"]
    assert runs[4]["error"] == "FloatingPointError: loss diverged"
    assert runs[2]["tag.name"] == "trial-1" and runs[2]["param.layers"] == "[64, 32]"
    assert runs[1]["metric.train/loss"] == pytest.approx(math.exp(-(LONG_STEPS - 1) * 0.001 / 50) + 0.01)
    assert runs[1]["start"] > 1.6e12  # epoch milliseconds
    assert table["fingerprint"] and table["running"] == 0


def test_a_wildcard_over_experiments_gives_every_run(client: httpx.Client) -> None:
    table = client.get("/api/runs", params={"experiment": "*"}).json()
    assert sorted((row["experiment"], row["run"]) for row in rows_of(table)) == [("other", 1)] + [("sweep", n) for n in (1, 2, 3, 4)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("lr>0.005 status=completed", [2, 3]),
        ("lr>=0.01", [2, 3, 4]),
        ("status!=completed", [4]),
        ("status=comp*", [1, 2, 3]),
        ("train/*<1", [1, 2, 3]),     # a glob over metric names
        ("*acc>0.7", [1, 3]),          # a glob over every column
        ("name=trial-2", [3]),         # a tag without its prefix
        ("name~TRIAL", [1, 2, 3]),     # contains, case-insensitive
        ("diverged", [4]),             # a bare word searches the text columns
        ('optimizer="adam"', [1, 2, 3]),
        ("", [1, 2, 3, 4]),
    ],
)  # fmt: skip
def test_the_text_filter(client: httpx.Client, query: str, expected: list[int]) -> None:
    table = client.get("/api/runs", params={"experiment": "sweep", "q": query}).json()
    assert [row["run"] for row in rows_of(table)] == expected
    assert table["matched"] == len(expected) and table["total"] == 4


def test_a_bad_filter_is_a_400_that_says_why(client: httpx.Client) -> None:
    answer = client.get("/api/runs", params={"experiment": "sweep", "q": "nosuch>1"})
    assert answer.status_code == 400 and "nosuch" in answer.json()["error"]
    answer = client.get("/api/runs", params={"experiment": "sweep", "q": "status>fast"})
    assert answer.status_code == 400 and "not a number" in answer.json()["error"]
    assert client.get("/api/runs", params={"sort": "nosuch"}).status_code == 400
    assert client.get("/api/runs", params={"limit": "0"}).status_code == 400
    assert client.get("/api/runs", params={"offset": "x"}).status_code == 400


def test_sorting_paging_and_choosing_columns(client: httpx.Client) -> None:
    table = client.get("/api/runs", params={"experiment": "sweep", "sort": "-param.lr"}).json()
    assert [row["run"] for row in rows_of(table)] == [4, 3, 2, 1]
    table = client.get("/api/runs", params={"experiment": "sweep", "sort": "metric.train/loss"}).json()
    assert [row["run"] for row in rows_of(table)] == [1, 3, 2, 4]
    page = client.get("/api/runs", params={"experiment": "sweep", "sort": "run", "offset": 1, "limit": 2}).json()
    assert [row["run"] for row in rows_of(page)] == [2, 3] and page["matched"] == 4 and page["offset"] == 1
    narrow = client.get("/api/runs", params={"experiment": "sweep", "columns": "param.*"}).json()
    assert narrow["columns"] == ["experiment", "run", "status", "param.layers", "param.lr", "param.optimizer"]
    assert "metric.val/acc" in narrow["all_columns"]


def test_the_table_is_folded_once_per_snapshot(ui: UIThread, client: httpx.Client) -> None:
    client.get("/api/runs", params={"experiment": "sweep"})
    folds = ui.app.state.runs.folds
    for query in ("lr>0.01", "status=failed", ""):
        client.get("/api/runs", params={"experiment": "sweep", "q": query, "sort": "-run"})
    assert ui.app.state.runs.folds == folds


def test_curves_arrive_downsampled_with_the_global_min_and_max(client: httpx.Client) -> None:
    answer = client.get("/api/curves", params={"run": "sweep:1", "key": "train/loss", "width": 300}).json()
    assert answer["x"] == "step" and answer["keys"] == ["train/loss"] and answer["watermark"] > 0
    (series,) = answer["series"]
    assert series["experiment"] == "sweep" and series["run"] == 1 and series["points"] == LONG_STEPS
    assert len(series["x"]) <= 2 * 300 + 2
    assert max(series["y"]) == SPIKE and series["x"][series["y"].index(SPIKE)] == SPIKE_STEP
    assert min(series["y"]) == DIP and series["x"][series["y"].index(DIP)] == DIP_STEP
    assert series["x"][0] == 0 and series["x"][-1] == LONG_STEPS - 1 and series["x"] == sorted(series["x"])
    m4 = client.get("/api/curves", params={"run": "sweep:1", "key": "train/loss", "width": 300, "mode": "m4"}).json()
    assert 2 * 300 < len(m4["series"][0]["x"]) <= 4 * 300


def test_curves_of_many_runs_and_keys(client: httpx.Client) -> None:
    answer = client.get("/api/curves", params={"run": ["sweep:2", "sweep:3", "other:1"], "key": "*", "width": 100}).json()
    assert answer["keys"] == ["score", "train/loss", "val/acc"]
    found = {(s["key"], s["experiment"], s["run"]) for s in answer["series"]}
    assert found == {("train/loss", "sweep", 2), ("train/loss", "sweep", 3), ("val/acc", "sweep", 2), ("val/acc", "sweep", 3), ("score", "other", 1)}
    answer = client.get("/api/curves", params={"run": ["sweep:2"], "key": "val/*", "width": 100}).json()
    assert answer["keys"] == ["val/acc"]


def test_curves_against_wall_time_relative_time_and_a_zoomed_range(client: httpx.Client) -> None:
    timed = client.get("/api/curves", params={"run": "sweep:2", "key": "train/loss", "x": "time"}).json()["series"][0]
    assert timed["x"][0] > 1.6e9 and timed["x"] == sorted(timed["x"])  # epoch seconds
    relative = client.get("/api/curves", params={"run": "sweep:2", "key": "train/loss", "x": "relative"}).json()["series"][0]
    assert 0 <= relative["x"][0] < 60 and relative["x"][-1] >= relative["x"][0]
    zoomed = client.get("/api/curves", params={"run": "sweep:1", "key": "train/loss", "width": 1000, "xmin": 12_000, "xmax": 12_500}).json()
    xs = zoomed["series"][0]["x"]
    assert xs == list(range(12_000, 12_501))  # 501 points fit 1,000 pixels: all of them
    assert SPIKE in zoomed["series"][0]["y"]


def test_since_the_watermark_nothing_is_new(client: httpx.Client) -> None:
    first = client.get("/api/curves", params={"run": "sweep:2", "key": "*"}).json()
    again = client.get("/api/curves", params={"run": "sweep:2", "key": "*", "since": first["watermark"] + 1}).json()
    assert again["series"] == [] and again["watermark"] == first["watermark"]


def test_bad_curve_requests_are_400s(client: httpx.Client) -> None:
    assert client.get("/api/curves").status_code == 400  # no run
    assert client.get("/api/curves", params={"run": "sweep"}).status_code == 400
    assert client.get("/api/curves", params={"run": "sweep:1", "width": 0}).status_code == 400
    assert client.get("/api/curves", params={"run": "sweep:1", "x": "epoch"}).status_code == 400
    assert client.get("/api/curves", params={"run": "sweep:1", "mode": "lttb"}).status_code == 400
    assert client.get("/api/curves", params={"run": "sweep:1", "key": "re:("}).status_code == 400


def test_a_run_page(client: httpx.Client) -> None:
    page = client.get("/api/run", params={"experiment": "sweep", "run": 1}).json()
    assert page["summary"]["status"] == "completed" and page["summary"]["run"] == 1
    assert page["params"] == {"lr": 0.001, "layers": [64, 32], "optimizer": "adam"}
    assert page["tags"] == {"name": "trial-0"}
    assert "python" in page["system"]["system"] and "heartbeat" not in page["system"]
    assert page["stop"]["status"] == "completed"
    assert set(page["metrics"]) == {"train/loss", "val/acc"} and page["metrics"]["train/loss"]["step"] == LONG_STEPS - 1
    artifacts = {a["key"]: a for a in page["artifacts"]}
    assert artifacts["model"]["format"] == "file" and artifacts["model"]["size"] == 2560 and artifacts["model"]["filename"] == "model-0.bin"
    assert artifacts["config"]["data"] == {"lr": 0.001, "note": "a json artifact"}
    assert sorted(f["relpath"] for f in artifacts["checkpoint"]["files"]) == ["a.txt", "sub/b.txt"]
    assert artifacts["aset"]["format"] == "pickle"


def test_a_failed_run_shows_its_error_and_traceback(client: httpx.Client) -> None:
    page = client.get("/api/run", params={"experiment": "sweep", "run": 4}).json()
    assert page["summary"]["status"] == "failed"
    assert page["stop"]["error"] == "FloatingPointError: loss diverged"
    assert "Traceback" in page["stop"]["traceback"] and "raise FloatingPointError" in page["stop"]["traceback"]


def test_an_unknown_run_is_a_404(client: httpx.Client) -> None:
    assert client.get("/api/run", params={"experiment": "sweep", "run": 99}).status_code == 404
    assert client.get("/api/run", params={"experiment": "nosuch", "run": 1}).status_code == 404
    assert client.get("/api/run", params={"experiment": "sweep"}).status_code == 400


def test_a_runs_events_are_paged(client: httpx.Client) -> None:
    page = client.get("/api/events", params={"experiment": "sweep", "run": 2, "limit": 10}).json()
    assert len(page["rows"]) == 10 and page["total"] > 1000 and page["offset"] == 0
    assert page["columns"][:3] == ["step", "event", "key"]
    rows = rows_of(page)
    assert rows[0]["event"] == "start"
    later = client.get("/api/events", params={"experiment": "sweep", "run": 2, "offset": 10, "limit": 5}).json()
    assert len(later["rows"]) == 5 and later["rows"][0] != page["rows"][0]
    params = client.get("/api/events", params={"experiment": "sweep", "run": 2, "event": "param"}).json()
    assert params["total"] == 3 and {r["key"] for r in rows_of(params)} == {"lr", "layers", "optimizer"}
    keyed = client.get("/api/events", params={"experiment": "sweep", "run": 2, "key": "val/*"}).json()
    assert keyed["total"] == 500


def test_artifacts_download_as_stored(client: httpx.Client, filled_store: str) -> None:
    model = client.get("/api/artifact", params={"experiment": "sweep", "run": 1, "key": "model"})
    assert model.status_code == 200 and model.content == bytes(range(256)) * 10
    assert "model-0.bin" in model.headers["content-disposition"]
    config = client.get("/api/artifact", params={"experiment": "sweep", "run": 2, "key": "config"})
    assert json.loads(config.content) == {"lr": 0.01, "note": "a json artifact"}
    part = client.get("/api/artifact", params={"experiment": "sweep", "run": 1, "key": "checkpoint", "file": "sub/b.txt"})
    assert part.content == b"beta"
    assert client.get("/api/artifact", params={"experiment": "sweep", "run": 1, "key": "checkpoint"}).status_code == 400
    raw = client.get("/api/artifact", params={"experiment": "sweep", "run": 1, "key": "aset"})
    stored = next(Path(filled_store, "artifacts").rglob("aset.pkl")).read_bytes()
    assert raw.content == stored  # the bytes, never unpickled
    assert client.get("/api/artifact", params={"experiment": "sweep", "run": 1, "key": "nosuch"}).status_code == 404
    assert client.get("/api/artifact", params={"experiment": "sweep", "run": 1, "key": "model", "index": 5}).status_code == 404


def test_the_page_and_its_assets_are_served(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "uPlot.iife.min.js" in page.text
    assert page.headers["x-content-type-options"] == "nosniff" and "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/run", params={"experiment": "sweep", "run": 1}).status_code == 200
    for asset in ("app.js", "common.js", "run.js", "app.css", "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css", "vendor/uPlot.LICENSE"):
        assert client.get(f"/static/{asset}").status_code == 200, asset


def test_only_get_is_served(client: httpx.Client) -> None:
    assert client.post("/api/runs").status_code == 405
    assert client.delete("/api/run", params={"experiment": "sweep", "run": 1}).status_code == 405


def test_a_foreign_host_name_is_refused_without_a_token(client: httpx.Client) -> None:
    answer = client.get("/api/runs", headers={"host": "attacker.example:5000"})
    assert answer.status_code == 403
    assert client.get("/api/experiments", headers={"host": "localhost:5000"}).status_code == 200


def test_the_token_is_required_on_every_request_when_set(filled_store: str) -> None:
    with UIThread(filled_store, token="s3cret") as ui, httpx.Client(base_url=ui.url) as http:
        for path in ("/", "/run", "/api/info", "/api/experiments", "/api/runs", "/static/app.js", "/static/vendor/uPlot.iife.min.js", "/nosuch"):
            assert http.get(path).status_code == 401, path
        assert http.get("/api/runs", headers={"authorization": "Bearer wrong"}).status_code == 401
        assert http.get("/api/runs", params={"token": "s3cre"}).status_code == 401
        assert http.get("/api/runs", headers={"authorization": "Bearer s3cret"}).status_code == 200
        opened = http.get("/", params={"token": "s3cret"})  # the link the CLI prints
        assert opened.status_code == 200 and "HttpOnly" in opened.headers["set-cookie"]
        assert http.get("/api/runs").status_code == 200  # the cookie carries it from now on
        assert http.get("/static/app.js").status_code == 200


def test_a_token_with_cookie_special_characters_works_through_the_cookie(filled_store: str) -> None:
    token = "a;b, c=d/é"
    with UIThread(filled_store, token=token) as ui, httpx.Client(base_url=ui.url) as http:
        assert http.get("/", params={"token": token}).status_code == 200
        assert http.get("/api/experiments").status_code == 200
        http.cookies.clear()
        assert http.get("/api/experiments").status_code == 401


def test_serving_beyond_loopback_needs_a_token(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="without a token"):
        check_bind("0.0.0.0", None)
    check_bind("0.0.0.0", "t")
    check_bind("127.0.0.1", None)
    with pytest.raises(UserError, match="no store"):
        open_read_only(str(tmp_path / "missing"))
    assert not (tmp_path / "missing").exists()


def test_no_request_writes_to_the_store(tmp_path: Path) -> None:
    uri = fill(tmp_path)
    before = tree_state(uri)
    with UIThread(uri) as ui, httpx.Client(base_url=ui.url, timeout=30) as http:
        for path, params in [
            ("/", {}), ("/api/info", {}), ("/api/experiments", {}), ("/api/runs", {"q": "lr>0.01", "sort": "-run"}),
            ("/api/curves", {"run": ["sweep:1", "sweep:2"], "x": "relative"}), ("/api/curves", {"run": "sweep:1", "since": 0}),
            ("/api/run", {"experiment": "sweep", "run": 1}), ("/api/events", {"experiment": "sweep", "run": 1}),
            ("/api/artifact", {"experiment": "sweep", "run": 1, "key": "model"}),
            ("/api/artifact", {"experiment": "sweep", "run": 1, "key": "checkpoint", "file": "a.txt"}),
            ("/api/artifact", {"experiment": "sweep", "run": 1, "key": "aset"}),
            ("/api/run", {"experiment": "nosuch", "run": 1}), ("/api/runs", {"experiment": "nosuch"}),
        ]:  # fmt: skip
            assert http.get(path, params=params).status_code in (200, 404), path
    assert tree_state(uri) == before


def test_a_live_run_gains_points_and_the_table_follows(tmp_path: Path) -> None:
    uri = str(tmp_path / "live")
    log = eventlog.open(uri)
    exp = log.experiment("live")
    exp.start()
    for step in range(100):
        exp.log_metric("loss", 1.0 / (step + 1), step=step)
    exp.flush()
    try:
        with UIThread(uri) as ui, httpx.Client(base_url=ui.url) as http:
            table = http.get("/api/runs", params={"experiment": "live"}).json()
            assert table["running"] == 1 and rows_of(table)[0]["status"] == "running"
            first = http.get("/api/curves", params={"run": "live:1", "key": "loss"}).json()
            assert first["series"][0]["x"][-1] == 99
            for step in range(100, 150):
                exp.log_metric("loss", 1.0 / (step + 1), step=step)
            exp.flush()
            fresh = http.get("/api/curves", params={"run": "live:1", "key": "loss", "since": first["watermark"]}).json()
            new_steps = [x for x in fresh["series"][0]["x"] if x > 99]
            assert new_steps == list(range(100, 150))
            assert fresh["watermark"] >= first["watermark"]
            table = http.get("/api/runs", params={"experiment": "live"}).json()
            assert rows_of(table)[0]["metric.loss"] == pytest.approx(1 / 150)
            exp.stop()
            table = http.get("/api/runs", params={"experiment": "live"}).json()
            assert rows_of(table)[0]["status"] == "completed" and table["running"] == 0
    finally:
        log.close()


def test_curves_of_a_resumed_run_and_of_metrics_without_steps(tmp_path: Path) -> None:
    uri = str(tmp_path / "odd")
    with eventlog.open(uri) as log:
        exp = log.experiment("odd")
        with exp:
            for step in [*range(10), *range(5, 15)]:  # resumed from a checkpoint at step 5
                exp.log_metric("loss", float(step), step=step)
            for value in (3.0, 1.0, 2.0):
                exp.log_metric("nostep", value)
    with UIThread(uri) as ui, httpx.Client(base_url=ui.url) as http:
        answer = http.get("/api/curves", params={"run": "odd:1", "key": "*"}).json()
        series = {s["key"]: s for s in answer["series"]}
        assert series["loss"]["x"] == sorted(series["loss"]["x"]) and series["loss"]["x"][-1] == 14 and series["loss"]["points"] == 20
        assert series["nostep"]["x"] == [0, 1, 2] and series["nostep"]["y"] == [3.0, 1.0, 2.0] and series["nostep"]["last_step"] is None


def test_serving_folds_the_first_table_at_once(filled_store: str) -> None:
    with UIThread(filled_store, warm_up=True) as ui, httpx.Client(base_url=ui.url) as http:
        ui.app.state.warming.join(60)
        assert ui.app.state.runs.folds == 1  # `*`: the store holds two experiments
        assert http.get("/api/runs", params={"experiment": "*"}).json()["total"] == 5
        assert ui.app.state.runs.folds == 1  # the page's first request found it ready


def test_a_refreshed_table_reads_only_the_files_that_appeared(local_uri: str) -> None:
    with eventlog.open(local_uri) as log:
        exp = log.experiment("sweep")
        for run in range(5):
            with exp:
                exp.log_metric("loss", 1.0 / (run + 1), step=0)  # the stop's flush: one segment per run
        with UIThread(local_uri) as ui, httpx.Client(base_url=ui.url, timeout=30) as http:
            assert http.get("/api/runs", params={"experiment": "sweep"}).json()["total"] == 5
            assert http.get("/api/info").json()["files_read"] == 5
            with exp:
                exp.log_metric("loss", 0.01, step=0)
            table = http.get("/api/runs", params={"experiment": "sweep", "sort": "-run"}).json()
            assert table["total"] == 6 and rows_of(table)[0]["metric.loss"] == 0.01
            info = http.get("/api/info").json()
            assert info["files_read"] == 6 and info["folds"] == 2  # the new run's segment, and nothing else
