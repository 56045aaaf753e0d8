"""XGBoost: a few boosting rounds on a tiny regression, with evaluation sets and early stopping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

import query
from eventlog.integrations.xgboost import EventLogXGBoostCallback

pytestmark = pytest.mark.integrations

PARAMS = {"max_depth": 2, "eta": 0.3, "objective": "reg:squarederror", "eval_metric": ["rmse", "mae"], "seed": 0, "nthread": 1}


def matrices() -> tuple[xgb.DMatrix, xgb.DMatrix]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + rng.normal(scale=0.1, size=80)
    return xgb.DMatrix(x[:60], label=y[:60]), xgb.DMatrix(x[60:], label=y[60:])


def test_train_logs_params_each_iteration_of_each_eval_set_and_completes(local_uri: str, tmp_path: Path) -> None:
    train, valid = matrices()
    callback = EventLogXGBoostCallback("xgb", uri=local_uri, params=PARAMS, log_model=True)
    booster = xgb.train(PARAMS, train, 5, evals=[(train, "train"), (valid, "valid")], callbacks=[callback], verbose_eval=False)

    assert callback.run == 1
    events = query.data(local_uri, "xgb", run=1)
    params = dict(events.filter(events["event"] == "param").select("key", "value").iter_rows())
    assert params["max_depth"] == 2 and params["eta"] == 0.3
    metrics = events.filter(events["event"] == "metric")
    assert set(metrics["key"].unique()) == {"train-rmse", "train-mae", "valid-rmse", "valid-mae"}
    for key in ("train-rmse", "valid-mae"):
        assert metrics.filter(metrics["key"] == key)["step"].to_list() == [0, 1, 2, 3, 4]
    last = metrics.filter((metrics["key"] == "valid-rmse") & (metrics["step"] == 4))["value"].item()
    expected = float(booster.eval(valid, name="valid").split("valid-rmse:")[1].split()[0])
    assert last == pytest.approx(expected, rel=1e-5)
    (model,) = callback.experiment.restore_artifacts("model", run=1, dest=tmp_path / "restored")
    assert xgb.Booster(model_file=str(model)).num_boosted_rounds() == 5
    assert query.runs(local_uri, "xgb")["status"].to_list() == ["completed"]


def test_early_stopping_logs_the_best_iteration(local_uri: str) -> None:
    train, valid = matrices()
    callback = EventLogXGBoostCallback("xgb", uri=local_uri, params=PARAMS)
    booster = xgb.train(PARAMS | {"eta": 1.0, "max_depth": 6}, train, 200, evals=[(valid, "valid")], early_stopping_rounds=2,
                        callbacks=[callback], verbose_eval=False)  # fmt: skip
    rounds = booster.num_boosted_rounds()
    assert rounds < 200
    metrics = query.data(local_uri, "xgb", run=1, event="metric")
    assert metrics.filter(metrics["key"] == "valid-mae")["step"].to_list() == list(range(rounds))
    best = metrics.filter(metrics["key"] == "xgboost/best_iteration")["value"].to_list()
    assert best == [booster.best_iteration]
    assert query.runs(local_uri, "xgb")["status"].to_list() == ["completed"]


def test_cv_logs_means_and_deviations(local_uri: str) -> None:
    train, _ = matrices()
    callback = EventLogXGBoostCallback("xgb", uri=local_uri)
    xgb.cv(PARAMS, train, 3, nfold=3, callbacks=[callback], seed=0)
    keys = set(query.data(local_uri, "xgb", run=1, event="metric")["key"].unique())
    assert {"train-rmse", "train-rmse-std", "test-rmse", "test-rmse-std"} <= keys

