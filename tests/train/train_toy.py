"""A small regression task and model shared by the trainer tests and the kill -9 subprocess.

Run as a script it trains the toy model with a checkpoint directory (used by the kill test).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Iterator

import torch
from torch import nn

try:
    from rnnlab.data.containers import Batch
except ImportError:  # the data package may not have landed yet

    @dataclasses.dataclass
    class Batch:  # type: ignore[no-redef]
        x: torch.Tensor
        y: torch.Tensor
        lengths: torch.Tensor | None = None
        target_lengths: torch.Tensor | None = None

        def __len__(self) -> int:
            return int(self.x.shape[0])


from rnnlab.train import StepInfo, TrainConfig, Trainer, seed_everything

N_TRAIN, N_VAL, LENGTH, INPUTS, BATCH = 48, 24, 6, 3, 12


class ToyRegressor(nn.Module):
    """LSTM + dropout + linear head on the sum of the inputs; dropout draws from torch's RNG."""

    def __init__(self, hidden: int = 8) -> None:
        super().__init__()
        self.rnn = nn.LSTM(INPUTS, hidden, batch_first=True)
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(hidden, 1)
        self.resets = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, _ = self.rnn(x)
        return self.head(self.dropout(output[:, -1])).squeeze(-1)

    def loss(self, batch: Batch) -> torch.Tensor:
        return nn.functional.mse_loss(self(batch.x), batch.y)

    def metrics(self, batch: Batch) -> dict[str, float]:
        with torch.no_grad():
            prediction = self(batch.x)
        return {
            "loss": nn.functional.mse_loss(prediction, batch.y).item(),
            "mae": (prediction - batch.y).abs().mean().item(),
        }

    def reset_state(self) -> None:
        self.resets += 1


def make_data(count: int, seed: int) -> Batch:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(count, LENGTH, INPUTS, generator=generator)
    return Batch(x=x, y=x.sum(dim=(1, 2)) / 4)


TRAIN, VAL = make_data(N_TRAIN, 1), make_data(N_VAL, 2)


def train_batches(epoch: int, generator: torch.Generator) -> Iterator[Batch]:
    """Shuffled mini-batches with input noise, all drawn lazily from ``generator``."""
    order = torch.randperm(N_TRAIN, generator=generator)
    for start in range(0, N_TRAIN, BATCH):
        index = order[start : start + BATCH]
        noise = 0.01 * torch.randn(len(index), LENGTH, INPUTS, generator=generator)
        yield Batch(x=TRAIN.x[index] + noise, y=TRAIN.y[index])


def val_batches() -> list[Batch]:
    return [Batch(x=VAL.x[:16], y=VAL.y[:16]), Batch(x=VAL.x[16:], y=VAL.y[16:])]


def make_model(seed: int = 0) -> ToyRegressor:
    seed_everything(seed)
    return ToyRegressor()


def toy_config(**overrides: object) -> TrainConfig:
    settings: dict[str, object] = {
        "epochs": 4,
        "lr": 0.02,
        "seed": 3,
        "device": "cpu",
        "progress": False,
        "schedule": "cosine",
        "warmup_steps": 2,
    }
    settings.update(overrides)
    return TrainConfig(**settings)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint-dir", required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--step-sleep", type=float, default=0.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    def slow_down(info: StepInfo) -> None:
        # Sleeping changes no number; it gives the test time to kill between checkpoints.
        time.sleep(args.step_sleep)

    trainer = Trainer(
        make_model(),
        toy_config(epochs=args.epochs, checkpoint_dir=args.checkpoint_dir),
        on_step=slow_down,
    )
    trainer.fit(train_batches, val_batches)


def comparable(result: object) -> dict[str, object]:
    """A result's dict without the wall-clock and CPU-time fields, which no two runs share."""
    data = result.to_dict()  # type: ignore[attr-defined]
    data.pop("wall_time_s")
    for record in data["history"]:
        record.pop("seconds")
        record.pop("cpu_seconds")
    return data


def assert_same_weights(first: nn.Module, second: nn.Module) -> None:
    first_state, second_state = first.state_dict(), second.state_dict()
    assert first_state.keys() == second_state.keys()
    for name, tensor in first_state.items():
        assert torch.equal(tensor, second_state[name]), name


if __name__ == "__main__":
    main()
