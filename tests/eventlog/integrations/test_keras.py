"""Keras 3 on the torch backend (no TensorFlow): a tiny dense model fits for a few epochs."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported (conftest sets it too)

import keras
import numpy as np

import query
from eventlog.integrations.keras import EventLogKerasCallback

pytestmark = pytest.mark.integrations


def tiny_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)], name="tiny")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    return model


def data(n: int = 32) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).normal(size=(n, 3)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def test_the_backend_is_torch() -> None:
    assert keras.backend.backend() == "torch"


def test_fit_logs_optimizer_batches_epochs_and_completes(local_uri: str) -> None:
    callback = EventLogKerasCallback("keras", uri=local_uri)
    x, y = data()
    tiny_model().fit(x, y, batch_size=8, epochs=3, validation_split=0.25, verbose=0, callbacks=[callback])

    assert callback.run == 1
    events = query.data(local_uri, "keras", run=1)
    params = dict(events.filter(events["event"] == "param").select("key", "value").iter_rows())
    assert params["epochs"] == 3 and params["steps"] == 3  # 24 training samples in batches of 8
    assert params["optimizer/learning_rate"] == pytest.approx(0.01) and params["model/count_params"] == 21
    optimizer = events.filter(events["key"] == "optimizer/name")["value_json"].to_list()
    assert optimizer == ['"adam"']
    metrics = events.filter(events["event"] == "metric")
    steps = lambda key: metrics.filter(metrics["key"] == key)["step"].to_list()  # noqa: E731
    assert steps("batch_loss") == list(range(1, 10)) and steps("batch_mae") == list(range(1, 10))
    for key in ("epoch_loss", "epoch_mae", "epoch_val_loss", "epoch_val_mae"):
        assert steps(key) == [0, 1, 2], key
    assert query.runs(local_uri, "keras")["status"].to_list() == ["completed"]


def test_batch_frequency_and_a_second_fit_is_a_second_run(local_uri: str) -> None:
    callback = EventLogKerasCallback("keras", uri=local_uri, batch_frequency=2)
    model = tiny_model()
    x, y = data()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[callback])
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[callback])
    assert callback.run == 2
    batches = query.data(local_uri, "keras", run="*", key="batch_loss")
    assert batches.select("run", "step").rows() == [(1, 2), (1, 4), (1, 6), (1, 8), (2, 2), (2, 4)]
    assert query.runs(local_uri, "keras")["status"].to_list() == ["completed", "completed"]


def test_a_negative_batch_frequency_is_refused() -> None:
    with pytest.raises(ValueError, match="batch_frequency"):
        EventLogKerasCallback("keras", batch_frequency=-1)
