"""`import_tensorboard` round-trips event files that real tensorboardX wrote."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import query
from eventlog.core.store import open_store
from eventlog.errors import CorruptRecordError
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


def _flip_a_bit_in_the_last_scalar(path: Path) -> int:
    """Flip one bit inside the payload of the file's last record; returns that record's byte offset."""
    data = bytearray(path.read_bytes())
    offset = 0
    last = 0
    while offset + 12 <= len(data):
        (length,) = struct.unpack("<Q", data[offset : offset + 8])
        last = offset
        offset += 12 + length + 4
    data[last + 12 + 5] ^= 0x01
    path.write_bytes(bytes(data))
    return last


def test_a_flipped_bit_is_an_error_naming_file_and_offset(logdir: Path, local_uri: str) -> None:
    """TensorBoard's own loader stops at a bad CRC; we refuse the run rather than import a changed value."""
    victim = next((logdir / "lr0.01").glob("events.out.tfevents.*"))
    offset = _flip_a_bit_in_the_last_scalar(victim)
    store = open_store(local_uri)
    with pytest.raises(CorruptRecordError, match=f"byte {offset}") as caught:
        import_tensorboard(store, logdir / "lr0.01")
    assert caught.value.path == str(victim.resolve()) and caught.value.offset == offset
    assert query.data(store, experiment="*", run="*").height == 0  # nothing of the damaged run


def test_hparams_become_params(tmp_path: Path, local_uri: str) -> None:
    from tensorboardX import SummaryWriter

    writer = SummaryWriter(str(tmp_path / "sweep"))
    writer.add_hparams({"lr": 0.01, "batch": 32, "optimizer": "adam", "nesterov": True}, {"hparam/acc": 0.8})
    writer.close()
    store = open_store(local_uri)
    import_tensorboard(store, tmp_path / "sweep", experiment="sweep")
    runs = query.runs(store, "sweep")
    assert runs.height == 1
    row = runs.row(0, named=True)
    assert row["param.lr"] == 0.01 and row["param.batch"] == 32 and row["param.optimizer"] == "adam"
    assert row["param.nesterov"] in (True, "true")  # a bool param is JSON text beside numeric ones
    assert row["metric.hparam/acc"] == pytest.approx(0.8)


def test_a_run_that_grew_gains_only_its_new_scalars(tmp_path: Path, local_uri: str) -> None:
    from tensorboardX import SummaryWriter

    run_dir = tmp_path / "live" / "run"
    writer = SummaryWriter(str(run_dir), filename_suffix=".1")
    for step in range(10):
        writer.add_scalar("loss", 1.0 / (step + 1), step, walltime=WALL + step)
    writer.close()
    store = open_store(local_uri)
    first = import_tensorboard(store, tmp_path / "live", experiment="live")
    assert first.events == 10 + 2
    writer = SummaryWriter(str(run_dir), filename_suffix=".2")  # the run resumed: a second event file
    for step in range(10, 25):
        writer.add_scalar("loss", 1.0 / (step + 1), step, walltime=WALL + step)
    writer.close()
    second = import_tensorboard(store, tmp_path / "live", experiment="live")
    assert second.events == 15 + 1 and second.already_present == 11  # new scalars, a newer stop
    loss = query.data(store, experiment="live", run="*").filter(pl.col("key") == "loss")
    assert sorted(loss["step"].to_list()) == list(range(25))
    runs = query.runs(store, "live")
    assert runs["metric.loss"].to_list() == [pytest.approx(1 / 25)]
    assert runs["duration_s"].to_list() == [pytest.approx(24.0)]
    assert import_tensorboard(store, tmp_path / "live", experiment="live").events == 0
