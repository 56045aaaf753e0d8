"""PyTorch Lightning: a tiny model trained for a few steps logs params, metrics, checkpoints and status."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

import query
from eventlog.integrations.lightning import EventLogLogger

pytestmark = pytest.mark.integrations

MODEL = textwrap.dedent(
    """
    import torch
    import lightning.pytorch as pl
    from torch.utils.data import DataLoader, TensorDataset


    class Tiny(pl.LightningModule):
        def __init__(self, hidden=4, lr=0.1, fail_at=None):
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Sequential(torch.nn.Linear(3, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))

        def training_step(self, batch, batch_idx):
            if self.hparams.fail_at is not None and self.global_step == self.hparams.fail_at:
                raise RuntimeError("boom at step %d" % self.global_step)
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            self.log("train/loss", loss)
            return loss

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val/loss", torch.nn.functional.mse_loss(self.net(x), y))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


    def loader(n=32, batch=4):
        g = torch.Generator().manual_seed(0)
        x = torch.randn(n, 3, generator=g)
        return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=batch)
    """
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    namespace: dict[str, object] = {}
    exec(compile(MODEL, "tiny_lightning_model", "exec"), namespace)
    return namespace


def trainer(tmp_path: Path, logger: EventLogLogger, **options: object) -> pl.Trainer:
    settings: dict[str, object] = dict(
        max_epochs=2, accelerator="cpu", devices=1, log_every_n_steps=1, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=str(tmp_path), num_sanity_val_steps=0,
    )
    settings.update(options)
    return pl.Trainer(logger=logger, **settings)


def test_fit_logs_hyperparams_every_step_and_completes(tiny: dict, local_uri: str, tmp_path: Path) -> None:
    logger = EventLogLogger("lit", uri=local_uri)
    trainer(tmp_path, logger, enable_checkpointing=False).fit(tiny["Tiny"](hidden=4, lr=0.1), tiny["loader"](), tiny["loader"](8))

    run = logger.version
    events = query.data(local_uri, "lit", run=run)
    params = {k: v for k, v in events.filter(events["event"] == "param").select("key", "value").iter_rows()}
    assert params == {"hidden": 4.0, "lr": 0.1}
    metrics = events.filter(events["event"] == "metric")
    train = metrics.filter(metrics["key"] == "train/loss")
    assert train["step"].to_list() == list(range(16))  # 8 batches x 2 epochs, one per step
    val = metrics.filter(metrics["key"] == "val/loss")
    assert val.height == 2 and val["step"].to_list() == [7, 15]  # the end of each epoch
    assert set(metrics["key"].unique()) == {"train/loss", "val/loss", "epoch"}
    assert events["rank"].null_count() == events.height  # one process: no rank
    runs = query.runs(local_uri, "lit")
    assert runs["run"].to_list() == [run] and runs["status"].to_list() == ["completed"]
    assert runs["param.hidden"].to_list() == [4]


def test_a_second_trainer_in_the_same_script_logs_a_second_run(tiny: dict, local_uri: str, tmp_path: Path) -> None:
    first, second = EventLogLogger("lit", uri=local_uri), EventLogLogger("lit", uri=local_uri)
    trainer(tmp_path, first, max_epochs=1, enable_checkpointing=False).fit(tiny["Tiny"](), tiny["loader"]())
    trainer(tmp_path, second, max_epochs=1, enable_checkpointing=False).fit(tiny["Tiny"](), tiny["loader"]())
    assert (first.version, second.version) == (1, 2)
    assert query.runs(local_uri, "lit")["status"].to_list() == ["completed", "completed"]


def test_test_after_fit_continues_the_run(tiny: dict, local_uri: str, tmp_path: Path) -> None:
    logger = EventLogLogger("lit", uri=local_uri)
    model = tiny["Tiny"]()
    t = trainer(tmp_path, logger, max_epochs=1, enable_checkpointing=False)
    t.fit(model, tiny["loader"]())
    t.validate(model, tiny["loader"](8))
    events = query.data(local_uri, "lit", run="*")
    assert events["run"].unique().to_list() == [1]
    assert events.filter(events["event"] == "start").height == 1
    assert events.filter(events["event"] == "stop").height == 2  # the latest stop is the status
    assert query.runs(local_uri, "lit")["status"].to_list() == ["completed"]


def test_checkpoints_are_logged_as_artifacts(tiny: dict, local_uri: str, tmp_path: Path) -> None:
    logger = EventLogLogger("lit", uri=local_uri, save_dir=tmp_path / "ckpt", log_model=True)
    trainer(tmp_path, logger).fit(tiny["Tiny"](), tiny["loader"]())
    assert Path(logger.log_dir or "", "checkpoints").is_dir()  # Lightning put them under save_dir/name/version_<run>
    artifacts = query.data(local_uri, "lit", run=logger.version, event="artifact")
    assert artifacts["key"].to_list() == ["checkpoint/epoch=1-step=16"]
    exp = logger.experiment
    (path,) = exp.restore_artifacts("checkpoint/*", run=logger.version, dest=tmp_path / "restored")
    state = torch.load(path, weights_only=False)
    assert state["global_step"] == 16


def test_every_checkpoint_with_log_model_all(tiny: dict, local_uri: str, tmp_path: Path) -> None:
    from lightning.pytorch.callbacks import ModelCheckpoint

    logger = EventLogLogger("lit", uri=local_uri, save_dir=tmp_path / "ckpt", log_model="all")
    keep_all = ModelCheckpoint(save_top_k=-1, every_n_epochs=1)
    trainer(tmp_path, logger, max_epochs=3, callbacks=[keep_all]).fit(tiny["Tiny"](), tiny["loader"]())
    artifacts = query.data(local_uri, "lit", run=logger.version, event="artifact")
    assert sorted(artifacts["key"].to_list()) == [f"checkpoint/epoch={e}-step={8 * (e + 1)}" for e in range(3)]


def test_a_failing_fit_marks_the_run_failed_with_the_error(tiny: dict, local_uri: str, tmp_path: Path) -> None:
    logger = EventLogLogger("lit", uri=local_uri)
    with pytest.raises(RuntimeError, match="boom at step 3"):
        trainer(tmp_path, logger, enable_checkpointing=False).fit(tiny["Tiny"](fail_at=3), tiny["loader"]())
    runs = query.runs(local_uri, "lit")
    assert runs["status"].to_list() == ["failed"]
    assert "RuntimeError: boom at step 3" in runs["error"][0]
    steps = query.data(local_uri, "lit", run=1, key="train/loss")["step"].to_list()
    assert steps == [0, 1, 2]


DDP_SCRIPT = MODEL + textwrap.dedent(
    """
    import sys
    from eventlog.integrations.lightning import EventLogLogger

    if __name__ == "__main__":
        logger = EventLogLogger("ddp", uri=sys.argv[1])
        trainer = pl.Trainer(
            logger=logger, max_epochs=2, accelerator="cpu", devices=2, strategy="ddp", log_every_n_steps=1,
            enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
            default_root_dir=sys.argv[2], num_sanity_val_steps=0, use_distributed_sampler=True,
        )
        trainer.fit(Tiny(hidden=4, lr=0.1), loader(), loader(8))
        # one file per rank: two ranks printing to one pipe at once interleave their lines
        with open(f"{sys.argv[2]}/rank{trainer.global_rank}.txt", "w") as out:
            print("RUN", trainer.global_rank, logger.version, file=out)
    """
)


@pytest.mark.slow
def test_ddp_two_cpu_processes_log_into_one_run_with_both_ranks(local_uri: str, tmp_path: Path) -> None:
    script = tmp_path / "train_ddp.py"
    script.write_text(DDP_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_PORT", "EVENTLOG_INTEGRATION_JOB")}
    done = subprocess.run(
        [sys.executable, str(script), local_uri, str(tmp_path)], env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-4000:]
    lines = [line for found in sorted(tmp_path.glob("rank*.txt")) for line in found.read_text().splitlines()]
    printed = sorted(line.split()[1:] for line in lines if line.startswith("RUN "))
    assert printed == [["0", "1"], ["1", "1"]], done.stdout[-2000:]  # both ranks, one run

    events = query.data(local_uri, "ddp", run="*")
    assert events["run"].unique().to_list() == [1]
    metrics = events.filter(events["event"] == "metric")
    # 32 samples, 2 ranks, batch 4: 4 batches per rank per epoch, 2 epochs
    per_rank = {rank: n for rank, n in metrics.filter(metrics["key"] == "train/loss").group_by("rank").len().iter_rows()}
    assert per_rank == {0: 8, 1: 8}
    for rank in (0, 1):
        steps = metrics.filter((metrics["key"] == "train/loss") & (metrics["rank"] == rank))["step"].sort().to_list()
        assert steps == list(range(8))
    val = metrics.filter(metrics["key"] == "val/loss")
    assert dict(val.group_by("rank").len().iter_rows()) == {0: 2, 1: 2}
    params = events.filter(events["event"] == "param")
    assert sorted(params["key"].to_list()) == ["fail_at", "hidden", "lr"][1:] and set(params["rank"].to_list()) == {0}
    starts, stops = (events.filter(events["event"] == kind) for kind in ("start", "stop"))
    assert sorted(starts["rank"].to_list()) == [0, 1] and sorted(stops["rank"].to_list()) == [0, 1]
    runs = query.runs(local_uri, "ddp")
    assert runs["run"].to_list() == [1] and runs["status"].to_list() == ["completed"]
