"""`scan()`: pruning by experiment and date before any file is opened, and every filter form."""

from __future__ import annotations

import datetime as _dt

import polars as pl
import pytest

import query
from eventlog.core.run_claims import claim_run
from eventlog.core.store import open_store
from query.filters import InvalidFilterError, RunNotFoundError
from query.scan import as_store, select_files
from query.snapshot import take_snapshot

from .conftest import T0, Writer

DAY = _dt.timedelta(days=1)


def _archive(uri: str, write: Writer) -> None:
    rows = []
    for name in ("mnist", "mnist-big", "cifar", "2024"):
        for run in (1, 2, 3):
            for day in range(3):
                rows.append({"experiment": name, "run": run, "step": day, "key": f"train/loss{day}", "value": float(run),
                             "dt": T0 + day * DAY, "writer": f"{name}-{run}", "extra": {"tag": f"v{run}"}})
    write(uri, rows)


def test_experiment_filters_prune_files(local_uri: str, write: Writer) -> None:
    _archive(local_uri, write)
    snapshot = take_snapshot(as_store(local_uri), "*")
    assert len(snapshot.files) == 36
    assert len(select_files(snapshot, experiment="mnist").files) == 9
    assert len(select_files(snapshot, experiment="mnist*").files) == 18
    assert len(select_files(snapshot, experiment=["cifar", "2024"]).files) == 18
    assert len(select_files(snapshot, experiment="re:^m.*g$").files) == 9
    since = T0 + DAY
    assert len(select_files(snapshot, experiment="cifar", since=since).files) == 6
    assert len(select_files(snapshot, experiment="cifar", since=since, end=since).files) == 3


def test_a_snapshot_takes_every_experiment_filter_form(local_uri: str, write: Writer) -> None:
    # query.files() took only a name or a glob: a regex listed nothing and a list failed
    _archive(local_uri, write)
    assert len(query.files(local_uri, ["cifar", "2024"])) == 18
    assert len(query.files(local_uri, "re:^m.*g$")) == 9
    assert len(query.files(local_uri, "mnist*")) == 18


def test_an_experiment_regex_that_does_not_compile_is_an_invalid_filter(local_uri: str, write: Writer) -> None:
    # it raised re.error from the file pruning, not the InvalidFilterError that data() documents
    _archive(local_uri, write)
    with pytest.raises(InvalidFilterError, match="not a valid regular expression"):
        query.data(local_uri, "re:(unclosed")
    with pytest.raises(InvalidFilterError, match="not a valid regular expression"):
        query.files(local_uri, ["cifar", "re:(unclosed"])


@pytest.fixture(params=["local_uri", "memory_uri"])
def uri(request: pytest.FixtureRequest) -> str:
    """Local disk and memory:// (S3 has its own, shorter test: each scan costs ~1 s on moto)."""
    return str(request.getfixturevalue(request.param))


@pytest.mark.s3
def test_scan_on_s3(s3_uri: str, write: Writer) -> None:
    _archive(s3_uri, write)
    frame = query.scan(s3_uri, ["cifar", "2024"], run=-1, key="train/*", since=T0 + DAY).collect()
    assert sorted(frame["experiment"].unique().to_list()) == ["2024", "cifar"]
    assert frame["run"].unique().to_list() == [3] and frame.height == 4
    assert len(query.files(s3_uri, "cifar")) == 9 and query.files(s3_uri)[0].startswith("s3://")


def test_scan_forms(uri: str, write: Writer) -> None:
    any_uri = uri
    _archive(any_uri, write)

    def count(**kwargs: object) -> int:
        return int(query.scan(any_uri, **kwargs).select(pl.len()).collect().item())

    assert count() == 36
    assert count(experiment="mnist") == 9
    assert count(experiment=["mnist", "cifar"]) == 18
    assert count(experiment="re:^[0-9]+$") == 9  # a numeric-looking name stays a string
    assert query.scan(any_uri, "2024").collect()["experiment"].unique().to_list() == ["2024"]
    assert count(experiment="mnist", run=-1) == 3
    assert query.scan(any_uri, "mnist", run=-1).collect()["run"].unique().to_list() == [3]
    assert count(experiment="mnist*", run=[1, -1]) == 12
    assert count(experiment="mnist", run=slice(-2, None)) == 6
    assert count(experiment="mnist", key="train/*", step=[0, 2]) == 6
    assert count(experiment="cifar", tag="v2") == 3
    assert count(experiment="cifar", since=T0 + DAY) == 6
    assert count(experiment="cifar", since=T0 + DAY, end=T0 + DAY) == 3
    assert count(experiment="nope") == 0


@pytest.mark.parametrize("name", ["a b/c", "x%y", "ünï", "a=b"])
def test_a_negative_run_finds_an_experiment_whose_name_is_encoded_in_paths(uri: str, write: Writer, name: str) -> None:
    # the run predicate compares the experiment column (decoded from the hive path) with the name
    write(uri, [{"experiment": name, "run": run, "writer": f"w{run}"} for run in (1, 2)])
    assert query.scan(uri, name, run=-1).collect().select("experiment", "run").rows() == [(name, 2)]


def test_negative_runs_use_the_run_claims(local_uri: str, write: Writer) -> None:
    store = open_store(local_uri)
    for _ in range(4):
        claim_run(store, "claimed", writer="w")
    write(local_uri, [{"experiment": "claimed", "run": r, "value": float(r)} for r in (1, 2)])
    # run 4 was claimed but logged nothing yet: -1 is run 4, so the frame is empty
    assert query.scan(local_uri, "claimed", run=-1).collect().height == 0
    assert query.scan(local_uri, "claimed", run=-3).collect()["run"].to_list() == [2]


def test_bad_runs_and_filters(local_uri: str, write: Writer) -> None:
    _archive(local_uri, write)
    with pytest.raises(RunNotFoundError, match="has 3 run"):
        query.scan(local_uri, "mnist", run=-4)
    with pytest.raises(InvalidFilterError, match="regular expression"):
        query.scan(local_uri, "mnist", key="re:[")
    with pytest.raises(InvalidFilterError, match="not a time"):
        query.scan(local_uri, "mnist", since="soon")
    assert query.scan(local_uri, "mnist", run=99).collect().height == 0
    assert query.scan(local_uri, "nothing-here", run=-1).collect().height == 0


def test_files_lists_the_snapshot_for_other_engines(local_uri: str, write: Writer) -> None:
    import duckdb

    _archive(local_uri, write)
    files = query.files(local_uri, "cifar")
    assert len(files) == 9
    total = duckdb.sql(f"SELECT count(*) FROM read_parquet({files!r}, hive_partitioning=true)").fetchall()
    assert total == [(9,)]
