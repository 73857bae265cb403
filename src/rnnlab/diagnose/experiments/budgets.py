"""The sizes of a claims run: one :class:`Budget` per name (``quick``, ``standard``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Budget:
    """Sizes of one claims run (``quick``: minutes on 2 CPU cores; ``standard``: hours)."""

    name: str
    seeds: int
    params: int  # parameter budget every matched model is sized to
    steps: int  # training steps of a ``train`` run
    eval_every: int  # steps between validations (resolution of steps-to-target)
    batch_size: int
    lr: float
    clip_norm: float
    val_size: int
    adding_length: int
    copy_length: int
    copy_memory: int
    targets: dict[str, float]  # validation target of claim 5, per task
    horizon_lengths: dict[str, tuple[int, ...]]
    explosion_lrs: tuple[float, ...]
    cost_hidden: int
    cost_length: int
    speed_rounds: int  # interleaved rounds of claim 4's speed benchmark (claim_speed)
    claim7_tasks: tuple[tuple[str, str], ...]  # (kind, task) pairs of claim 7
    dataset_params: dict[str, int]  # parameter budget per real-dataset task
    dataset_options: dict[str, dict[str, Any]]
    dataset_train: dict[str, Any]

    def length(self, task: str) -> int:
        """The fixed sequence length of synthetic ``task`` (``adding`` or ``copy``)."""
        return {"adding": self.adding_length, "copy": self.copy_length}[task]


BUDGETS: dict[str, Budget] = {
    "quick": Budget(
        name="quick",
        seeds=3,
        params=1500,
        steps=240,
        eval_every=40,
        batch_size=32,
        lr=1e-2,
        clip_norm=1.0,
        val_size=256,
        adding_length=12,
        copy_length=5,
        copy_memory=3,
        targets={"adding": 0.05, "copy": 0.5},
        horizon_lengths={"adding": (4, 8, 16, 32), "copy": (2, 4, 8, 16)},
        explosion_lrs=(0.05, 0.3),
        cost_hidden=64,
        cost_length=30,
        speed_rounds=30,
        claim7_tasks=(
            ("fixed-length", "mnist-rows"),
            ("variable-length", "japanese-vowels"),
            ("variable-length", "spoken-digits"),
            ("generation", "shakespeare"),
        ),
        dataset_params={
            "mnist-rows": 5000,
            "japanese-vowels": 5000,
            "spoken-digits": 5000,
            "shakespeare": 10_000,
        },
        dataset_options={
            "mnist-rows": {"limit": 600},
            "japanese-vowels": {},
            "spoken-digits": {"limit": 600},
            "shakespeare": {"limit": 20_000, "seq_len": 50},
        },
        dataset_train={"epochs": 3},
    ),
    # Sized with `rnnlab claims --budget standard --estimate` to finish within 3 hours on 2
    # idle CPU cores with 2 workers (docs/claims.md gives the cuts and the estimates).
    "standard": Budget(
        name="standard",
        seeds=5,
        params=10_000,
        steps=2000,
        eval_every=100,
        batch_size=64,
        lr=3e-3,
        clip_norm=1.0,
        val_size=1000,
        adding_length=100,
        copy_length=50,
        copy_memory=10,
        targets={"adding": 0.05, "copy": 0.5},
        horizon_lengths={"adding": (25, 50, 100, 200, 400), "copy": (10, 25, 50, 100, 200)},
        explosion_lrs=(0.01, 0.03, 0.1),
        cost_hidden=128,
        cost_length=100,
        speed_rounds=100,
        claim7_tasks=(
            ("fixed-length", "mnist-rows"),
            ("variable-length", "japanese-vowels"),
            ("variable-length", "spoken-digits"),
            ("generation", "shakespeare"),
        ),
        dataset_params={
            "mnist-rows": 20_000,
            "japanese-vowels": 20_000,
            "spoken-digits": 20_000,
            "shakespeare": 50_000,
        },
        dataset_options={"shakespeare": {"limit": 500_000}},
        dataset_train={"epochs": 20, "patience": 5},
    ),
}
