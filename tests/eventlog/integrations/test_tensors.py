"""0-d tensors in `log_metric`: converted by the flusher when they live on an accelerator, never in the
training thread; at most `ingest.tensors.MAX_PENDING` wait. No GPU here: CPU tensors are deferred
by clearing `CONVERT_NOW_ON`, and a tensor that numpy cannot read stands in for a CUDA one."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import eventlog
import query
from ingest import run_writer, tensors

pytestmark = pytest.mark.integrations


class DeviceOnly(torch.Tensor):
    """Like a CUDA tensor for numpy: `__array__` refuses, as `torch.tensor(1., device="cuda").__array__()` does."""

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory first.")


DeviceOnly.__module__ = "torch.fake_device"  # recognised as a torch tensor, as torch.Tensor is


@pytest.fixture
def exp(local_uri: str) -> Any:
    log = eventlog.open(local_uri, flush_every=3600)
    experiment = log.experiment("tensors")
    experiment.start()
    yield experiment
    log.close()


def values(local_uri: str, key: str) -> list[tuple[int, float]]:
    frame = query.data(local_uri, "tensors", run=1, key=key)
    return [(int(step), float(value)) for step, value in frame.select("step", "value").iter_rows()]


def test_a_cpu_tensor_is_converted_at_the_call(exp: Any, local_uri: str) -> None:
    exp.log_metric("loss", torch.tensor(0.25, requires_grad=True) * 2, step=1)
    assert exp._writer._buffer.deferred == 0
    assert [v for v in exp._writer._buffer.scalar_rows if isinstance(v, torch.Tensor)] == []
    exp.flush()
    assert values(local_uri, "loss") == [(1, 0.5)]


def test_an_accelerator_tensor_waits_detached_and_the_flusher_converts_it(exp: Any, local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tensors, "CONVERT_NOW_ON", ())
    for step in range(3):
        loss = (torch.tensor(float(step), requires_grad=True) + 0.5) * 2
        exp.log_metric("loss", loss, step=step)
    exp.log_metric("loss", 9.0, step=3)  # floats and tensors mix in one column
    held = [v for v in exp._writer._buffer.scalar_rows if isinstance(v, torch.Tensor)]
    assert len(held) == 3 and all(t.grad_fn is None and not t.requires_grad for t in held)  # no graph kept alive
    assert exp._writer._buffer.deferred == 3
    exp.flush()
    assert exp._writer._buffer.deferred == 0
    assert values(local_uri, "loss") == [(0, 1.0), (1, 3.0), (2, 5.0), (3, 9.0)]


def test_a_tensor_numpy_cannot_read_is_converted_one_by_one(exp: Any, local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tensors, "CONVERT_NOW_ON", ())
    device_only = torch.tensor(0.75).as_subclass(DeviceOnly)
    with pytest.raises(TypeError):
        np.array([1.0, device_only], dtype=np.float64)
    exp.log_metric("acc", device_only, step=1)
    exp.log_metric("acc", torch.tensor(0.5).as_subclass(DeviceOnly), step=2)
    exp.flush()
    assert values(local_uri, "acc") == [(1, 0.75), (2, 0.5)]


def test_at_most_max_pending_tensors_wait(exp: Any, local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tensors, "CONVERT_NOW_ON", ())
    monkeypatch.setattr(run_writer, "MAX_PENDING_TENSORS", 2)
    for step in range(5):
        exp.log_metric("loss", torch.tensor(float(step)), step=step)
    kinds = [type(v) for v in exp._writer._buffer.scalar_rows[1::4]]
    assert kinds == [torch.Tensor, torch.Tensor, float, float, float]
    exp.flush()
    exp.log_metric("loss", torch.tensor(5.0), step=5)  # the drain reset the count
    assert type(exp._writer._buffer.scalar_rows[1]) is torch.Tensor
    exp.flush()
    assert values(local_uri, "loss") == [(s, float(s)) for s in range(6)]


@pytest.mark.parametrize("value", [torch.tensor(True), torch.tensor(3), torch.tensor(1 + 2j), torch.tensor([0.5])])
def test_only_0d_floating_point_tensors_wait(value: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tensors, "CONVERT_NOW_ON", ())
    assert tensors.tensor_value(value, defer=True)[1] is False
    assert tensors.tensor_value(torch.tensor(0.5), defer=True)[1] is True
    assert tensors.tensor_value(torch.tensor(0.5), defer=False)[1] is False
    assert not tensors.is_tensor(np.float32(0.5)) and tensors.is_tensor(torch.tensor(0.5))


def test_an_int_tensor_is_converted_at_the_call_and_a_vector_refused(exp: Any, local_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tensors, "CONVERT_NOW_ON", ())
    exp.log_metric("count", torch.tensor(3), step=1)
    with pytest.raises(TypeError, match="shape"):
        exp.log_metric("count", torch.tensor([0.5]), step=2)
    exp.flush()
    assert values(local_uri, "count") == [(1, 3.0)]
