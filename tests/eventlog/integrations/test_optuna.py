"""Optuna: a small study (complete, pruned and failed trials) logs one run per trial."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

import query
from eventlog.integrations.optuna import EventLogOptunaCallback

pytestmark = pytest.mark.integrations

optuna.logging.set_verbosity(optuna.logging.WARNING)


def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -10, 10)
    layers = trial.suggest_int("layers", 1, 3)
    trial.set_user_attr("note", "tiny")
    if trial.number == 3:
        raise RuntimeError("out of memory")
    for step in range(3):
        trial.report((x - 2) ** 2 + step, step)
    if trial.number == 4:
        raise optuna.TrialPruned()
    return (x - 2) ** 2 + layers


def test_each_trial_is_a_run_with_params_value_state_and_compare_ranks_them(local_uri: str) -> None:
    callback = EventLogOptunaCallback(uri=local_uri)
    study = optuna.create_study(study_name="tune", direction="minimize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=6, callbacks=[callback], catch=(RuntimeError,))
    callback.close()

    assert callback.runs == {n: n + 1 for n in range(6)}
    runs = query.runs(local_uri, "tune").sort("run")
    assert runs["status"].to_list() == ["completed", "completed", "completed", "failed", "pruned", "completed"]
    assert runs["tag.trial"].to_list() == [0, 1, 2, 3, 4, 5]
    assert set(runs["tag.direction"].to_list()) == {"minimize"}
    for trial in study.trials:
        row = runs.filter(runs["run"] == trial.number + 1)
        assert row["param.x"].item() == pytest.approx(trial.params["x"]) and row["param.layers"].item() == trial.params["layers"]

    events = query.data(local_uri, "tune", run="*", event="metric")
    values = dict(events.filter(events["key"] == "value").select("run", "value").iter_rows())
    assert values == {t.number + 1: pytest.approx(t.value) for t in study.trials if t.value is not None}
    intermediate = events.filter((events["key"] == "intermediate_value") & (events["run"] == 5))  # the pruned trial
    assert intermediate["step"].to_list() == [0, 1, 2]
    assert events.filter(events["key"] == "trial_duration_s").height == 6

    ranked = query.compare(local_uri, "tune", "value", mode="min")
    assert ranked["run"][0] == study.best_trial.number + 1


def test_several_objectives_get_their_names(local_uri: str) -> None:
    callback = EventLogOptunaCallback("multi", uri=local_uri, metric_names=["loss", "latency"])
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=2, callbacks=[callback])
    callback.close()
    events = query.data(local_uri, "multi", run="*", event="metric")
    assert sorted(events.filter(events["key"].is_in(["loss", "latency"])).select("run", "key").rows()) == [
        (1, "latency"), (1, "loss"), (2, "latency"), (2, "loss"),
    ]  # fmt: skip
    assert set(query.runs(local_uri, "multi")["tag.direction"].to_list()) == {"minimize,minimize"}


def test_parallel_trials_each_get_their_own_run(local_uri: str) -> None:
    callback = EventLogOptunaCallback("parallel", uri=local_uri)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=8, n_jobs=4, callbacks=[callback])
    callback.close()
    runs = query.runs(local_uri, "parallel")
    assert runs.height == 8 and sorted(runs["tag.trial"].to_list()) == list(range(8))
    assert set(runs["status"].to_list()) == {"completed"}


def test_a_study_of_many_fast_trials_through_a_sweep_log_shares_segments(local_uri: str) -> None:
    import eventlog

    log = eventlog.open(local_uri, flush_on_stop=False, flush_every=3600)
    callback = EventLogOptunaCallback("fast", log=log)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=40, callbacks=[callback])
    assert query.runs(local_uri, "fast").height == 0  # the trials wait for the flush
    log.close()
    runs = query.runs(local_uri, "fast")
    assert sorted(runs["tag.trial"].to_list()) == list(range(40))
    assert set(runs["status"].to_list()) == {"completed"}
    assert len(list((Path(local_uri) / "seg").rglob("*.parquet"))) == 1
