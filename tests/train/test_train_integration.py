"""The trainer with a real task model and synthetic task: the path every comparison run takes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from train_toy import assert_same_weights, comparable

from rnnlab import models
from rnnlab.data import synthetic
from rnnlab.train import StepInfo, TrainConfig, Trainer, seed_everything


class Crash(Exception):
    pass


def test_adding_task_with_a_gru_regressor_resumes_exactly(tmp_path: Path) -> None:
    task = synthetic.make_task("adding", 12, seed=0, val_size=32, test_size=8)

    def train_batches(epoch: int, generator: torch.Generator) -> Iterator[object]:
        while True:
            yield task.batch(16, generator)

    def val_batches() -> list[object]:
        return [task.validation_set()]

    def model() -> torch.nn.Module:
        seed_everything(0)
        return models.SequenceRegressor(encoder="gru", input_size=task.input_size, hidden_size=8)

    def config(**extra: object) -> TrainConfig:
        return TrainConfig(
            epochs=3, steps_per_epoch=6, lr=0.01, device="cpu", progress=False, **extra
        )  # type: ignore[arg-type]

    reference = Trainer(model(), config())
    reference_result = reference.fit(train_batches, val_batches)
    assert reference_result.status == "done" and reference_result.total_steps == 18
    assert "loss" in reference_result.final_val_metrics

    def crash(info: StepInfo) -> None:
        if info.step == 9:
            raise Crash

    with pytest.raises(Crash):
        Trainer(model(), config(checkpoint_dir=tmp_path), on_step=crash).fit(
            train_batches, val_batches
        )
    resumed = Trainer(model(), config(checkpoint_dir=tmp_path))
    result = resumed.fit(train_batches, val_batches, resume=True)
    assert_same_weights(resumed.model, reference.model)
    assert comparable(result) == comparable(reference_result)
