"""`import_tensorboard` round-trips event files that real tensorboardX wrote."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import query
from eventlog.core.store import open_store
from ingest.importers import import_tensorboard, read_scalars
from ingest.importers.tensorboard import _tensor_scalar

WALL = 1_700_000_000.0


@pytest.fixture
def logdir(tmp_path: Path) -> Path:
    from tensorboardX import SummaryWriter
    from tensorboardX.proto import summary_pb2, tensor_pb2

    root = tmp_path / "resnet"
    for name, scale in (("lr0.1", 1.0), ("lr0.01", 2.0)):
        writer = SummaryWriter(str(root / name))
        for step in range(30):
            writer.add_scalar("train/loss", scale / (step + 1), step, walltime=WALL + step)
        writer.add_histogram("weights", np.arange(10), 0)  # not a scalar: skipped
        # A TF2-style scalar: a 0-d tensor of the `scalars` plugin instead of simple_value.
        value = summary_pb2.Summary.Value(
            tag="eval/acc",
            tensor=tensor_pb2.TensorProto(dtype=2, double_val=[0.75 * scale]),
            metadata=summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")),
        )
        writer.file_writer.add_summary(summary_pb2.Summary(value=[value]), global_step=29, walltime=WALL + 30)
        writer.close()
    return root


def test_tensorboard_round_trip(logdir: Path, local_uri: str) -> None:
    store = open_store(local_uri)
    report = import_tensorboard(store, logdir)
    assert report.experiments == ["resnet"]
    assert report.runs == 2
    assert report.skipped == 2  # the two histograms

    frame = query.data(store, experiment="resnet", run="*")
    runs = query.runs(store, "resnet").sort("run")
    assert runs["status"].to_list() == ["completed", "completed"]
    names = frame.filter(pl.col("event") == "start").sort("run")["name"].to_list()
    assert sorted(names) == ["lr0.01", "lr0.1"]
    for run, name in zip(runs["run"], names):
        scale = 1.0 if name == "lr0.1" else 2.0
        loss = frame.filter((pl.col("run") == run) & (pl.col("key") == "train/loss")).sort("step")
        assert loss["step"].to_list() == list(range(30))
        assert loss["value"].to_list() == pytest.approx([scale / (s + 1) for s in range(30)], rel=1e-6)
        assert loss["dt"][5].timestamp() == pytest.approx(WALL + 5)
        acc = frame.filter((pl.col("run") == run) & (pl.col("key") == "eval/acc"))
        assert acc["value"].to_list() == [0.75 * scale] and acc["step"].to_list() == [29]


def test_tensorboard_import_is_idempotent_and_takes_one_experiment_name(logdir: Path, local_uri: str) -> None:
    store = open_store(local_uri)
    first = import_tensorboard(store, logdir, experiment="imported")
    second = import_tensorboard(store, logdir, experiment="imported")
    assert second.segments_created == 0 and first.segments_created > 0
    assert query.data(store, experiment="imported", run="*").height == first.events == 2 * (30 + 1 + 2)


def test_truncated_file_keeps_complete_records(logdir: Path, tmp_path: Path) -> None:
    source = next((logdir / "lr0.1").glob("events.out.tfevents.*"))
    cut = tmp_path / "events.out.tfevents.cut"
    data = source.read_bytes()
    cut.write_bytes(data[: len(data) - 20])
    whole = [s for s in read_scalars(source) if s is not None]
    partial = [s for s in read_scalars(cut) if s is not None]
    assert 0 < len(partial) < len(whole)
    assert partial == whole[: len(partial)]


def test_no_event_files(tmp_path: Path, local_uri: str) -> None:
    with pytest.raises(FileNotFoundError, match="no TensorBoard event files"):
        import_tensorboard(open_store(local_uri), tmp_path)


def _tensor(dtype: int, *fields: bytes) -> bytes:
    """A TensorProto: dtype (field 1, varint), then the given raw fields."""
    return bytes([0x08, dtype]) + b"".join(fields)


@pytest.mark.parametrize(
    ("tensor", "expected"),
    [
        (_tensor(1, bytes([0x2D]) + struct.pack("<f", 0.25)), 0.25),  # float_val, unpacked fixed32
        (_tensor(1, bytes([0x2A, 4]) + struct.pack("<f", 1.5)), 1.5),  # float_val, packed
        (_tensor(2, bytes([0x31]) + struct.pack("<d", 2.75)), 2.75),  # double_val, unpacked fixed64
        (_tensor(2, bytes([0x32, 8]) + struct.pack("<d", -3.5)), -3.5),  # double_val, packed
        (_tensor(9, bytes([0x50, 7])), 7.0),  # int64_val, unpacked varint
        (_tensor(1, bytes([0x2A, 8]) + struct.pack("<2f", 1.0, 2.0)), None),  # two values: not a scalar
    ],
)
def test_scalar_tensors_in_every_protobuf_encoding(tensor: bytes, expected: float | None) -> None:
    # protobuf writers may pack repeated scalars or not; an unpacked float_val was dropped before
    assert _tensor_scalar(tensor) == expected
