"""LightGBM: a few boosting rounds on a tiny regression, with validation sets and early stopping."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

import query
from eventlog.integrations.lightgbm import EventLogLightGBMCallback

pytestmark = pytest.mark.integrations

PARAMS = {"objective": "regression", "metric": ["l2", "l1"], "num_leaves": 4, "learning_rate": 0.3, "min_data_in_leaf": 5,
          "verbose": -1, "seed": 0, "num_threads": 1}  # fmt: skip


def datasets() -> tuple[lgb.Dataset, lgb.Dataset]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + rng.normal(scale=0.1, size=120)
    train = lgb.Dataset(x[:90], label=y[:90])
    return train, lgb.Dataset(x[90:], label=y[90:], reference=train)


def test_train_logs_params_each_iteration_of_each_valid_set_and_completes(local_uri: str) -> None:
    train, valid = datasets()
    callback = EventLogLightGBMCallback("lgb", uri=local_uri)
    booster = lgb.train(PARAMS, train, 5, valid_sets=[train, valid], valid_names=["train", "valid"], callbacks=[callback],
                        keep_training_booster=True)  # fmt: skip

    assert callback.run == 1
    events = query.data(local_uri, "lgb", run=1)
    params = dict(events.filter(events["event"] == "param").select("key", "value").iter_rows())
    assert params["num_leaves"] == 4 and params["learning_rate"] == 0.3
    metrics = events.filter(events["event"] == "metric")
    assert set(metrics["key"].unique()) == {"train-l2", "train-l1", "valid-l2", "valid-l1"}
    for key in ("train-l2", "valid-l1"):
        assert metrics.filter(metrics["key"] == key)["step"].to_list() == [0, 1, 2, 3, 4]
    last = metrics.filter((metrics["key"] == "valid-l2") & (metrics["step"] == 4))["value"].item()
    (expected,) = [value for data, metric, value, _ in booster.eval_valid() if (data, metric) == ("valid", "l2")]
    assert last == pytest.approx(expected)
    assert query.runs(local_uri, "lgb")["status"].to_list() == ["completed"]


def test_early_stopping_logs_the_stopping_iteration_and_finish_stops_the_run(local_uri: str) -> None:
    train, valid = datasets()
    callback = EventLogLightGBMCallback("lgb", uri=local_uri)
    booster = lgb.train(PARAMS | {"learning_rate": 1.0, "num_leaves": 31}, train, 200, valid_sets=[valid],
                        callbacks=[lgb.early_stopping(2, verbose=False), callback])  # fmt: skip
    trained = booster.best_iteration + 2  # the best (counted from 1), then 2 rounds without improvement
    assert trained < 200
    callback.finish()
    metrics = query.data(local_uri, "lgb", run=1, event="metric")
    assert metrics.filter(metrics["key"] == "valid_0-l2")["step"].to_list() == list(range(trained))
    assert query.runs(local_uri, "lgb")["status"].to_list() == ["completed"]


def test_a_second_training_stops_the_first_and_is_a_second_run(local_uri: str) -> None:
    train, valid = datasets()
    callback = EventLogLightGBMCallback("lgb", uri=local_uri)
    lgb.train(PARAMS | {"learning_rate": 1.0, "num_leaves": 31}, train, 200, valid_sets=[valid],
              callbacks=[lgb.early_stopping(2, verbose=False), callback])  # fmt: skip
    lgb.train(PARAMS, train, 3, valid_sets=[valid], callbacks=[callback])
    assert callback.run == 2
    assert query.runs(local_uri, "lgb")["status"].to_list() == ["completed", "completed"]
    assert query.data(local_uri, "lgb", run=2, key="valid_0-l2")["step"].to_list() == [0, 1, 2]
