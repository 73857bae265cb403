"""Repeatability and resume: a killed or crashed run ends where an uninterrupted one does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from train_toy import (
    assert_same_weights,
    comparable,
    make_model,
    toy_config,
    train_batches,
    val_batches,
)

from rnnlab.errors import UserInputError
from rnnlab.train import StepInfo, Trainer, load_checkpoint


class Crash(Exception):
    pass


def uninterrupted(**overrides: object) -> tuple[Trainer, object]:
    trainer = Trainer(make_model(), toy_config(**overrides))
    return trainer, trainer.fit(train_batches, val_batches)


def test_two_runs_with_the_same_seed_are_bitwise_equal() -> None:
    first, first_result = uninterrupted()
    second, second_result = uninterrupted()
    assert_same_weights(first.model, second.model)
    assert comparable(first_result) == comparable(second_result)
    _, other_seed = uninterrupted(seed=4)
    assert comparable(other_seed)["history"] != comparable(first_result)["history"]


def test_resume_after_a_crash_matches_the_uninterrupted_run(tmp_path: Path) -> None:
    reference, reference_result = uninterrupted()

    def crash_in_third_epoch(info: StepInfo) -> None:
        if info.epoch == 2 and info.step == 10:
            raise Crash

    crashing = Trainer(
        make_model(), toy_config(checkpoint_dir=tmp_path), on_step=crash_in_third_epoch
    )
    with pytest.raises(Crash):
        crashing.fit(train_batches, val_batches)
    saved = load_checkpoint(tmp_path / "checkpoint.pt")
    assert saved["progress"]["epoch"] == 2 and saved["result"] is None

    # Different initial weights: everything must come from the checkpoint.
    resumed = Trainer(make_model(seed=99), toy_config(checkpoint_dir=tmp_path))
    result = resumed.fit(train_batches, val_batches, resume=True)
    assert_same_weights(resumed.model, reference.model)
    assert comparable(result) == comparable(reference_result)
    assert resumed.model.resets == 2 * 2  # epochs 2 and 3 only: train + validation each


def test_resume_of_a_finished_run_returns_its_result_without_training(tmp_path: Path) -> None:
    first = Trainer(make_model(), toy_config(checkpoint_dir=tmp_path))
    first_result = first.fit(train_batches, val_batches)
    steps: list[int] = []
    again = Trainer(make_model(seed=5), toy_config(checkpoint_dir=tmp_path), on_step=steps.append)
    again_result = again.fit(train_batches, val_batches, resume=True)
    assert steps == []
    assert again_result.to_dict() == first_result.to_dict()
    assert_same_weights(again.model, first.model)


def test_resume_without_a_checkpoint_starts_afresh(tmp_path: Path) -> None:
    _, reference_result = uninterrupted()
    trainer = Trainer(make_model(), toy_config(checkpoint_dir=tmp_path / "new"))
    assert comparable(trainer.fit(train_batches, val_batches, resume=True)) == comparable(
        reference_result
    )


def test_resume_with_another_configuration_is_refused(tmp_path: Path) -> None:
    Trainer(make_model(), toy_config(epochs=1, checkpoint_dir=tmp_path)).fit(
        train_batches, val_batches
    )
    trainer = Trainer(make_model(), toy_config(epochs=1, lr=0.5, checkpoint_dir=tmp_path))
    with pytest.raises(UserInputError, match=r"lr: 0\.02 in the checkpoint, 0\.5 now"):
        trainer.fit(train_batches, val_batches, resume=True)


def test_resume_needs_a_checkpoint_dir() -> None:
    with pytest.raises(UserInputError, match="checkpoint_dir"):
        Trainer(make_model(), toy_config()).fit(train_batches, val_batches, resume=True)


def test_kill_9_during_training_then_resume_matches_uninterrupted_run(tmp_path: Path) -> None:
    epochs = 6
    script = Path(__file__).with_name("train_toy.py")
    command = [
        sys.executable,
        str(script),
        "--checkpoint-dir",
        str(tmp_path),
        "--epochs",
        str(epochs),
        "--threads",
        str(torch.get_num_threads()),
        "--step-sleep",
        "0.1",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    checkpoint = tmp_path / "checkpoint.pt"
    try:
        deadline = time.monotonic() + 120
        while not checkpoint.exists():
            assert process.poll() is None, process.communicate()[1].decode()
            assert time.monotonic() < deadline, "no checkpoint written"
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    killed_after = load_checkpoint(checkpoint)["progress"]["epoch"]
    assert 1 <= killed_after < epochs

    resumed = Trainer(make_model(seed=7), toy_config(epochs=epochs, checkpoint_dir=tmp_path))
    result = resumed.fit(train_batches, val_batches, resume=True)
    reference, reference_result = uninterrupted(epochs=epochs)
    assert_same_weights(resumed.model, reference.model)
    assert comparable(result) == comparable(reference_result)
    assert not list(tmp_path.glob(".checkpoint.pt.*"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_resume_on_cuda_matches_the_uninterrupted_run(tmp_path: Path) -> None:
    reference = Trainer(make_model(), toy_config(device="auto"))
    reference_result = reference.fit(train_batches, val_batches)
    assert reference_result.device.startswith("cuda")
    assert next(reference.model.parameters()).is_cuda

    def crash_in_second_epoch(info: StepInfo) -> None:
        if info.epoch == 1 and info.step == 6:
            raise Crash

    crashing = Trainer(
        make_model(),
        toy_config(device="cuda", checkpoint_dir=tmp_path),
        on_step=crash_in_second_epoch,
    )
    with pytest.raises(Crash):
        crashing.fit(train_batches, val_batches)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["rng"]["cuda"]
    resumed = Trainer(make_model(seed=8), toy_config(device="cuda", checkpoint_dir=tmp_path))
    result = resumed.fit(train_batches, val_batches, resume=True)
    assert_same_weights(resumed.model, reference.model)
    assert comparable(result) == comparable(reference_result)
