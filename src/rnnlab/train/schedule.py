"""Learning-rate schedule: warm-up × (cosine decay | plateau cuts), as a pure function of progress.

Computing the rate from (step, epoch progress, plateau scale) rather than mutating it step by
step keeps the whole schedule state three numbers, which a checkpoint restores exactly.
"""

from __future__ import annotations

import math
from typing import Any

from rnnlab.train.config import TrainConfig


class LRSchedule:
    """The learning rate of every step of a run configured by ``config``."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.plateau_scale = 1.0
        self.plateau_best: float | None = None
        self.plateau_bad_epochs = 0

    def rate(self, step: int, epoch_progress: float) -> float:
        """Rate of optimizer step ``step`` (0-based) at ``epoch_progress`` epochs into the run.

        ``epoch_progress`` is fractional within an epoch when its length is known, else the
        number of completed epochs.
        """
        config = self.config
        rate = config.lr
        if config.schedule == "cosine":
            fraction = min(epoch_progress / config.epochs, 1.0)
            rate = config.min_lr + (config.lr - config.min_lr) * 0.5 * (
                1.0 + math.cos(math.pi * fraction)
            )
        elif config.schedule == "plateau":
            rate *= self.plateau_scale
        if step < config.warmup_steps:
            rate *= (step + 1) / config.warmup_steps
        return rate

    def end_epoch(self, monitored: float) -> None:
        """Feed the epoch's monitored value to the ``plateau`` schedule."""
        if self.config.schedule != "plateau":
            return
        if improves(monitored, self.plateau_best, self.config):
            self.plateau_best = monitored
            self.plateau_bad_epochs = 0
            return
        self.plateau_bad_epochs += 1
        if self.plateau_bad_epochs >= self.config.plateau_patience:
            self.plateau_scale *= self.config.plateau_factor
            self.plateau_bad_epochs = 0

    def state_dict(self) -> dict[str, Any]:
        """Plain-typed state for a checkpoint."""
        return {
            "plateau_scale": self.plateau_scale,
            "plateau_best": self.plateau_best,
            "plateau_bad_epochs": self.plateau_bad_epochs,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the state returned by :meth:`state_dict`."""
        self.plateau_scale = state["plateau_scale"]
        self.plateau_best = state["plateau_best"]
        self.plateau_bad_epochs = state["plateau_bad_epochs"]


def improves(value: float, best: float | None, config: TrainConfig) -> bool:
    """Whether ``value`` beats ``best`` by more than ``min_delta`` in direction ``mode``.

    NaN never improves; anything finite improves on no best at all.
    """
    if math.isnan(value):
        return False
    if best is None:
        return True
    if config.mode == "min":
        return value < best - config.min_delta
    return value > best + config.min_delta
