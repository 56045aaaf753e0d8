"""The `eventlog` CLI, run as a subprocess on a store that the test filled; output and exit codes checked."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import eventlog

SCRIPT = Path(sys.executable).parent / "eventlog"


def cli(*args: str, store: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `python -m eventlog.cli ARGS` (with `--store` via $EVENTLOG_URI when given)."""
    env = {k: v for k, v in os.environ.items() if k != "EVENTLOG_URI"}
    if store is not None:
        env["EVENTLOG_URI"] = store
    done = subprocess.run([sys.executable, "-m", "eventlog.cli", *args], capture_output=True, text=True, env=env, timeout=120)
    if check:
        assert done.returncode == 0, f"{args}: rc={done.returncode}\n{done.stderr}"
    return done


def fill(uri: str, artifact_dir: Path) -> None:
    """Experiment `mnist`: run 1 lr=0.1 (acc 0.9), run 2 lr=0.01 (acc 0.95), run 3 lr=1.0 fails."""
    log = eventlog.open(uri, flush_every=60)
    exp = log.experiment("mnist")
    for lr, final_acc in ((0.1, 0.9), (0.01, 0.95)):
        with exp:
            exp.log_extra(tag=f"lr{lr}")
            exp.log_params({"lr": lr, "batch": 32})
            for step in range(10):
                exp.log_metrics({"loss": 1.0 / (step + 1) + lr, "acc": final_acc * (step + 1) / 10}, step=step)
    model = artifact_dir / "model.txt"
    model.write_text("weights of run 2")
    log.experiment("mnist").use(2).log_artifact(model, "model")  # another handle: `exp` goes on to a new run
    exp.flush()
    with pytest.raises(ZeroDivisionError), exp:
        exp.log_param("lr", 1.0)
        exp.log_metric("loss", 5.0, step=0)
        raise ZeroDivisionError("diverged")
    log.experiment("other").start()
    log.close()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("cli")
    uri = str(root / "store")
    fill(uri, root)
    return uri


def read_csv(text: str) -> pl.DataFrame:
    return pl.read_csv(io.StringIO(text))


def test_experiments_lists_names_and_run_counts(store: str) -> None:
    assert cli("experiments", store=store).stdout.splitlines() == ["mnist\t3 runs", "other\t1 run"]
    assert cli("experiments", "mn*", "--store", store).stdout.splitlines() == ["mnist\t3 runs"]
    assert cli("--store", store, "experiments", "o*").stdout.splitlines() == ["other\t1 run"]


def test_runs_table_and_csv(store: str) -> None:
    table = cli("runs", "mnist", store=store).stdout
    assert "completed" in table and "failed" in table and "ZeroDivisionError: diverged" in table and "param.lr" in table
    frame = read_csv(cli("runs", "mnist", "--format", "csv", store=store).stdout)
    assert frame["run"].to_list() == [1, 2, 3]
    assert frame["status"].to_list() == ["completed", "completed", "failed"]
    assert frame["param.lr"].to_list() == [0.1, 0.01, 1.0]
    assert frame["metric.acc"].to_list()[:2] == pytest.approx([0.9, 0.95])
    assert frame.columns[:4] == ["run", "status", "start", "duration_s"]


@pytest.mark.slow
def test_runs_sort_and_filter(store: str) -> None:
    by_lr = read_csv(cli("runs", "mnist", "--sort", "lr", "--desc", "--format", "csv", store=store).stdout)
    assert by_lr["run"].to_list() == [3, 1, 2]
    kept = read_csv(cli("runs", "mnist", "--filter", "status=completed", "--filter", "lr<0.05", "-f", "csv", store=store).stdout)
    assert kept["run"].to_list() == [2]
    globbed = read_csv(cli("runs", "mnist", "--filter", "status=compl*", "-f", "csv", store=store).stdout)
    assert globbed["run"].to_list() == [1, 2]


@pytest.mark.slow
def test_data_filters_and_formats(store: str, tmp_path: Path) -> None:
    table = cli("data", "mnist", "--key", "acc", "--limit", "3", store=store).stdout  # a table: the 3 newest rows
    assert table.count("│ acc ") == 3 and "0.95" in table
    loss = read_csv(cli("data", "mnist", "--key", "loss", "--run", "2", "--format", "csv", store=store).stdout)
    assert loss.height == 10 and loss["value"].to_list()[0] == pytest.approx(1.01) and set(loss["tag"]) == {"lr0.01"}
    both = read_csv(cli("data", "mnist", "--key", "loss,acc", "--run", "1,2", "--step", "9", "-f", "csv", store=store).stdout)
    assert both.height == 4
    latest = read_csv(cli("data", "mnist", "--run", "-1", "--event", "metric", "-f", "csv", store=store).stdout)
    assert latest["run"].to_list() == [3] and latest["value"].to_list() == [5.0]
    tagged = json.loads(cli("data", "mnist", "--where", "tag=lr0.1", "--key", "acc", "-f", "json", store=store).stdout)
    assert len(tagged) == 10 and {row["run"] for row in tagged} == {1}
    out = tmp_path / "events.parquet"
    cli("data", "mnist", "--event", "param", "--format", "parquet", "--out", str(out), store=store)
    params = pl.read_parquet(out)
    assert sorted(params["key"].to_list()) == ["batch", "batch", "lr", "lr", "lr"]
    recent = read_csv(cli("data", "mnist", "--since", "1h", "--key", "acc", "-f", "csv", store=store).stdout)
    assert recent.height == 20
    before_2000 = cli("data", "mnist", "--end", "2000-01-01", "-f", "csv", store=store).stdout
    assert before_2000.startswith("experiment,run,") and len(before_2000.strip().splitlines()) == 1  # the header only
    bad = cli("data", "mnist", "--since", "yesterday", store=store, check=False)
    assert bad.returncode == 1 and "cannot read time 'yesterday'" in bad.stderr


@pytest.mark.slow
def test_summary_and_compare(store: str) -> None:
    stats = read_csv(cli("summary", "mnist", "--format", "csv", store=store).stdout)
    loss = stats.filter(pl.col("key") == "loss").row(0, named=True)
    assert loss["count"] == 21 and loss["max"] == 5.0
    per_run = read_csv(cli("summary", "mnist", "--by-run", "--key", "acc", "-f", "csv", store=store).stdout)
    assert per_run.filter(pl.col("key") == "acc")["run"].to_list() == [1, 2]
    ranked = read_csv(cli("compare", "mnist", "acc", "--format", "csv", store=store).stdout)
    assert ranked["run"].to_list()[:2] == [2, 1]
    lowest = read_csv(cli("compare", "mnist", "loss", "--mode", "min", "-f", "csv", store=store).stdout)
    assert lowest["run"].to_list()[0] == 2
    unknown = cli("compare", "mnist", "f1", store=store, check=False)
    assert unknown.returncode == 1 and "f1" in unknown.stderr and "Traceback" not in unknown.stderr


@pytest.mark.slow
def test_plot_writes_png_and_html(store: str, tmp_path: Path) -> None:
    png = tmp_path / "acc.png"
    done = cli("plot", "mnist", "acc", "--out", str(png), store=store)
    assert "wrote" in done.stderr
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    html = tmp_path / "loss.html"
    cli("plot", "mnist", "loss", "--run", "1,2", "-o", str(html), store=store)
    assert "<svg" in html.read_text()


def test_files_and_artifacts(store: str, tmp_path: Path) -> None:
    urls = cli("files", "mnist", store=store).stdout.splitlines()
    assert urls and all(Path(u).is_file() and u.endswith(".parquet") for u in urls)
    assert pl.read_parquet(urls).height > 40
    listing = cli("artifacts", "mnist", store=store).stdout
    assert "model" in listing and "file" in listing and "16" in listing
    restored_rows = read_csv(cli("artifacts", "mnist", "--restore", str(tmp_path / "got"), "-f", "csv", store=store).stdout)
    assert restored_rows.select("run", "name", "format", "size").rows() == [(2, "model", "file", 16)]
    (restored,) = (tmp_path / "got").rglob("model.txt")
    assert restored.read_text() == "weights of run 2" and restored_rows["where"][0] == str(restored)


@pytest.mark.slow
def test_user_errors_exit_1_with_a_message(store: str, tmp_path: Path) -> None:
    cases = [
        (("runs", "nope"), "unknown experiment 'nope'"),
        (("runs", "mnist", "--store", str(tmp_path / "missing")), "no store at"),
        (("runs", "mnist", "--filter", "lr~~1"), "cannot parse filter"),
        (("runs", "mnist", "--sort", "nonexistent"), "no column 'nonexistent'"),
        (("data", "mnist", "--format", "xml"), "unknown format 'xml'"),
        (("plot", "mnist", "f1", "--out", str(tmp_path / "x.png")), "no metric 'f1'"),
        (("data", "mnist", "--where", "step=3"), "step has its own option; use --step 3"),  # was a TypeError traceback
        (("tail", "mnist", "--where", "run=1", "--timeout", "1"), "run has its own option; use --run 1"),  # silently replaced --run
        (("runs", "mnist", "--store", "http://127.0.0.1:9"), "is a collector"),  # was opened as an HTTP file store: 404s
    ]
    for args, message in cases:
        done = cli(*args, store=store, check=False)
        assert done.returncode == 1, (args, done.stderr)
        assert message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_usage_errors_exit_2_and_help_has_examples(store: str) -> None:
    assert cli("runs", store=store, check=False).returncode == 2
    assert cli("runs", "mnist", "--bogus", store=store, check=False).returncode == 2
    top = cli("--help").stdout
    commands = ["experiments", "runs", "data", "summary", "compare", "plot", "tail", "files", "artifacts", "compact", "gc",
                "recover", "serve", "import"]
    assert all(command in top for command in commands)
    # Each command's help, through the same typer app in-process (one subprocess each would take ~15 s).
    from typer.testing import CliRunner

    from eventlog.cli.app import app

    runner = CliRunner()
    for command in [*commands[:-1], "import mlflow", "import tensorboard", "import jsonl"]:
        result = runner.invoke(app, [*command.split(), "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, command
        assert "Example" in result.output and "--store" in result.output, command


@pytest.mark.slow
def test_the_installed_script_and_an_s3_store(s3_uri: str, tmp_path: Path) -> None:
    fill(s3_uri, tmp_path)
    done = subprocess.run([str(SCRIPT), "runs", "mnist", "--store", s3_uri, "--format", "csv"],
                          capture_output=True, text=True, timeout=120, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    assert read_csv(done.stdout)["status"].to_list() == ["completed", "completed", "failed"]
    missing = subprocess.run([str(SCRIPT), "experiments", "--store", "s3://no-such-bucket-here/x"],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_value_parsing_and_formatting_helpers() -> None:
    import datetime as dt

    from eventlog.cli.output import format_duration, format_value, parse_scalar, parse_time

    assert parse_scalar("3") == 3 and parse_scalar("-1") == -1 and parse_scalar("0.5") == 0.5
    assert parse_scalar("1,2") == [1, 2] and parse_scalar("train/*") == "train/*"
    now = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
    assert parse_time("5h", now=now) == dt.datetime(2026, 11, 23, 7, 0, tzinfo=dt.UTC)
    assert parse_time("1w", now=now) == dt.datetime(2026, 11, 16, 12, 0, tzinfo=dt.UTC)
    assert parse_time("2026-11-20T08:30") == dt.datetime(2026, 11, 20, 8, 30, tzinfo=dt.UTC)
    assert parse_time(None) is None
    with pytest.raises(ValueError, match="5h, 2d, 1w"):
        parse_time("soon")
    assert [format_duration(s) for s in (3.21, 187.0, 3720.0, None)] == ["3.2s", "3m 07s", "1h 02m", ""]
    assert format_value(0.123456789) == "0.123457" and format_value(None) == "" and format_value(float("nan")) == "nan"


def test_since_and_end_read_what_the_library_reads() -> None:
    # Regression: the CLI had a parser of its own, which crashed with an OverflowError traceback on
    # `--since 99999999999w` and refused `--since "2 days"`, a form `exp.data(since=...)` takes.
    import datetime as dt

    from eventlog.cli.output import parse_time

    now = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
    assert parse_time("2 days", now=now) == dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
    assert parse_time("99999999999w", now=now) == dt.datetime(1677, 9, 21, 0, 12, 44, tzinfo=dt.UTC)  # the first event time


def test_an_ambiguous_since_says_why() -> None:
    # Regression (issue 14): "5M" was read as five minutes; now the CLI says what is ambiguous.
    from eventlog.cli.output import parse_time

    with pytest.raises(ValueError, match=r"cannot read time '5M': 'M' could mean minutes or months"):
        parse_time("5M")
    with pytest.raises(ValueError, match=r"cannot read time 'yesterday': use e\.g\. 5h, 2d, 1w, 1h30m"):
        parse_time("yesterday")
