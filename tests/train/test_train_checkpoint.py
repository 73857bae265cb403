"""Checkpoint files: atomic writes, weights_only loading, clear errors on damaged files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from train_toy import make_model, toy_config, train_batches, val_batches

from rnnlab.errors import RnnlabError, UserInputError
from rnnlab.train import CheckpointError, Trainer, load_checkpoint, save_checkpoint
from rnnlab.train.checkpoint import REQUIRED_KEYS


@pytest.fixture(scope="module")
def finished_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("run")
    Trainer(make_model(), toy_config(epochs=2, checkpoint_dir=directory)).fit(
        train_batches, val_batches
    )
    return directory / "checkpoint.pt"


def test_checkpoint_loads_with_weights_only_and_holds_the_training_state(
    finished_checkpoint: Path,
) -> None:
    payload = torch.load(finished_checkpoint, weights_only=True)
    assert payload.keys() >= REQUIRED_KEYS
    assert payload["progress"]["epoch"] == 2
    assert len(payload["progress"]["history"]) == 2
    assert set(payload["rng"]) == {"torch", "cuda", "numpy", "python", "data"}
    assert payload["optimizer"]["state"]  # Adam moments are there
    assert payload["result"]["status"] == "done"
    assert payload["result"]["clip_norm"] == 1.0


@pytest.mark.parametrize("keep", [0, 100, 0.5])
def test_truncated_checkpoint_raises_a_clear_error(
    finished_checkpoint: Path, tmp_path: Path, keep: float
) -> None:
    data = finished_checkpoint.read_bytes()
    damaged = tmp_path / "checkpoint.pt"
    damaged.write_bytes(data[: int(len(data) * keep) if isinstance(keep, float) else keep])
    with pytest.raises(CheckpointError, match="corrupt or truncated") as caught:
        load_checkpoint(damaged)
    assert isinstance(caught.value, UserInputError) and isinstance(caught.value, RnnlabError)


def test_corrupt_checkpoint_stops_resume_with_a_clear_error(
    finished_checkpoint: Path, tmp_path: Path
) -> None:
    data = bytearray(finished_checkpoint.read_bytes())
    data[len(data) // 3 : len(data) // 3 + 64] = b"\xff" * 64
    (tmp_path / "checkpoint.pt").write_bytes(bytes(data))
    trainer = Trainer(make_model(), toy_config(epochs=2, checkpoint_dir=tmp_path))
    with pytest.raises(CheckpointError, match="checkpoint"):
        trainer.fit(train_batches, val_batches, resume=True)


def test_foreign_files_are_not_taken_for_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    torch.save({"model": {}}, path)
    with pytest.raises(CheckpointError, match="not an rnnlab training checkpoint"):
        load_checkpoint(path)
    torch.save({"format": "rnnlab-train-checkpoint", "version": 999}, path)
    with pytest.raises(CheckpointError, match="format version 999"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_checkpoint_of_another_model_is_refused(finished_checkpoint: Path, tmp_path: Path) -> None:
    (tmp_path / "checkpoint.pt").write_bytes(finished_checkpoint.read_bytes())
    other = torch.nn.Linear(2, 1)
    other.loss = lambda batch: other(batch).sum()  # type: ignore[method-assign]
    trainer = Trainer(other, toy_config(epochs=2, checkpoint_dir=tmp_path))
    with pytest.raises(CheckpointError, match="does not fit this model"):
        trainer.fit(train_batches, resume=True)


def test_a_failed_write_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "checkpoint.pt"
    save_checkpoint({"value": torch.tensor([1.0])}, path)

    def write_half_then_fail(obj: object, handle: object) -> None:
        handle.write(b"partial")  # type: ignore[attr-defined]
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"value": torch.tensor([2.0])}, path)
    monkeypatch.undo()
    assert torch.equal(torch.load(path, weights_only=True)["value"], torch.tensor([1.0]))
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


def test_stale_temp_files_of_a_killed_writer_are_removed(tmp_path: Path) -> None:
    stale = tmp_path / ".checkpoint.pt.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    Trainer(make_model(), toy_config(epochs=1, checkpoint_dir=tmp_path)).fit(train_batches)
    assert not stale.exists()
    assert (tmp_path / "checkpoint.pt").exists()
