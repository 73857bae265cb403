"""Overhead of rnnlab's Trainer over a bare PyTorch training loop on the same model and data.

Both loops do the same work per step (forward, backward, clip at 1.0, Adam step) and validate
once per epoch; the Trainer adds its bookkeeping (loss/grad-norm sync, LR schedule, history,
early-stopping state) and, in the last column, an atomic checkpoint per epoch. Runs alternate
(bare, trainer, trainer+checkpoint) so load changes hit all three alike; medians are reported.

    python benchmarks/trainer_overhead.py [--hidden 128] [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass

import torch
from torch import nn

from rnnlab.train import TrainConfig, Trainer, seed_everything


@dataclass
class Batch:
    x: torch.Tensor
    y: torch.Tensor


class Regressor(nn.Module):
    def __init__(self, inputs: int, hidden: int) -> None:
        super().__init__()
        self.rnn = nn.LSTM(inputs, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(x)[0][:, -1]).squeeze(-1)

    def loss(self, batch: Batch) -> torch.Tensor:
        return nn.functional.mse_loss(self(batch.x), batch.y)

    def metrics(self, batch: Batch) -> dict[str, float]:
        return {"loss": self.loss(batch).item()}


def make_batches(count: int, batch_size: int, length: int, inputs: int, device: str) -> list[Batch]:
    generator = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(count):
        x = torch.randn(batch_size, length, inputs, generator=generator)
        batches.append(Batch(x.to(device), x.sum(dim=(1, 2)).to(device) / length))
    return batches


def bare_loop(model: Regressor, train: list[Batch], val: list[Batch], epochs: int) -> None:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        model.train()
        for batch in train:
            optimizer.zero_grad(set_to_none=True)
            loss = model.loss(batch)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        model.eval()
        with torch.no_grad():
            [model.metrics(batch) for batch in val]


def timed(function: object, *args: object) -> float:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    function(*args)  # type: ignore[operator]
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--length", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=40, help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    inputs = 8
    train = make_batches(args.steps, args.batch_size, args.length, inputs, args.device)
    val = make_batches(4, args.batch_size, args.length, inputs, args.device)

    def model() -> Regressor:
        seed_everything(0)
        return Regressor(inputs, args.hidden).to(args.device)

    def trainer_run(checkpoint_dir: str | None) -> None:
        config = TrainConfig(
            epochs=args.epochs,
            lr=1e-3,
            device=args.device,
            progress=False,
            checkpoint_dir=checkpoint_dir,
            restore_best=checkpoint_dir is not None,
        )
        Trainer(model(), config).fit(lambda epoch, generator: train, lambda: val)

    times: dict[str, list[float]] = {"bare": [], "trainer": [], "trainer+ckpt": []}
    bare_loop(model(), train[:2], val[:1], 1)  # warm-up (allocator, kernels)
    with tempfile.TemporaryDirectory() as directory:
        for _ in range(args.repeats):
            times["bare"].append(timed(bare_loop, model(), train, val, args.epochs))
            times["trainer"].append(timed(trainer_run, None))
            times["trainer+ckpt"].append(timed(trainer_run, directory))
    bare = statistics.median(times["bare"])
    print(
        f"LSTM hidden {args.hidden}, T={args.length}, batch {args.batch_size}, "
        f"{args.steps} steps x {args.epochs} epochs, {args.threads} threads, {args.device}, "
        f"median of {args.repeats}"
    )
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:>14}: {median:7.3f} s   overhead vs bare {100 * (median / bare - 1):+6.1f} %")


if __name__ == "__main__":
    main()
