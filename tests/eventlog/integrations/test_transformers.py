"""Hugging Face transformers: a tiny BERT built from a config (no download) trains for a few steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

import query
from eventlog.integrations.transformers import EventLogCallback

pytestmark = pytest.mark.integrations


class Tokens(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """Random token sequences with a label that depends on the first token."""

    def __init__(self, n: int) -> None:
        g = torch.Generator().manual_seed(0)
        self.ids = torch.randint(1, 50, (n, 8), generator=g)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, Any]:
        ids = self.ids[i]
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": int(ids[0] % 2)}


def tiny_trainer(tmp_path: Path, callback: EventLogCallback, **options: Any) -> Trainer:
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                        max_position_embeddings=16, num_labels=2)  # fmt: skip
    torch.manual_seed(0)
    settings: dict[str, Any] = dict(
        output_dir=str(tmp_path / "out"), use_cpu=True, report_to=[], max_steps=6, per_device_train_batch_size=4,
        logging_steps=1, eval_strategy="steps", eval_steps=3, save_strategy="no", disable_tqdm=True, learning_rate=1e-3,
        run_name="tiny-bert", seed=0,
    )  # fmt: skip
    settings.update(options)
    return Trainer(model=BertForSequenceClassification(config), args=TrainingArguments(**settings),
                   train_dataset=Tokens(32), eval_dataset=Tokens(8), callbacks=[callback])  # fmt: skip


def test_train_logs_arguments_config_every_step_and_completes(local_uri: str, tmp_path: Path) -> None:
    callback = EventLogCallback("bert", uri=local_uri)
    trainer = tiny_trainer(tmp_path, callback)
    trainer.train()

    assert callback.run == 1
    events = query.data(local_uri, "bert", run=1)
    params = dict(events.filter(events["event"] == "param").select("key", "value").iter_rows())
    assert params["learning_rate"] == 1e-3 and params["max_steps"] == 6 and params["per_device_train_batch_size"] == 4
    assert params["model/hidden_size"] == 16 and params["model/vocab_size"] == 50
    metrics = events.filter(events["event"] == "metric")
    steps = lambda key: metrics.filter(metrics["key"] == key)["step"].to_list()  # noqa: E731
    assert steps("loss") == [1, 2, 3, 4, 5, 6] and steps("learning_rate") == [1, 2, 3, 4, 5, 6]
    assert steps("eval_loss") == [3, 6]
    assert steps("train_loss") == [6] and steps("train_runtime") == [6]  # the summary at the end
    assert {"loss", "grad_norm", "learning_rate", "epoch", "eval_loss", "eval_runtime"} <= set(metrics["key"].to_list())
    runs = query.runs(local_uri, "bert")
    assert runs["status"].to_list() == ["completed"] and runs["tag.name"].to_list() == ["tiny-bert"]


def test_evaluate_after_train_logs_into_the_same_run(local_uri: str, tmp_path: Path) -> None:
    callback = EventLogCallback("bert", uri=local_uri)
    trainer = tiny_trainer(tmp_path, callback, max_steps=2, eval_strategy="no")
    trainer.train()
    trainer.evaluate()
    callback.experiment.flush()
    events = query.data(local_uri, "bert", run="*")
    assert events["run"].unique().to_list() == [1]
    assert events.filter(events["key"] == "eval_loss")["step"].to_list() == [2]
    assert query.runs(local_uri, "bert")["status"].to_list() == ["completed"]


def test_a_second_train_is_a_second_run_and_checkpoints_are_artifacts(local_uri: str, tmp_path: Path) -> None:
    callback = EventLogCallback("bert", uri=local_uri, log_checkpoints=True)
    trainer = tiny_trainer(tmp_path, callback, max_steps=2, eval_strategy="no", save_strategy="steps", save_steps=2)
    trainer.train()
    trainer.train()
    assert callback.run == 2
    artifacts = query.data(local_uri, "bert", run="*", event="artifact")
    assert artifacts.select("run", "key", "step").rows() == [(1, "checkpoint-2", 2), (2, "checkpoint-2", 2)]
    assert query.runs(local_uri, "bert")["status"].to_list() == ["completed", "completed"]
