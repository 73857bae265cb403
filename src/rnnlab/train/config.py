"""Training configuration: one dataclass that fixes everything a run's result depends on."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from rnnlab.errors import UserInputError

OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
SCHEDULES = ("none", "cosine", "plateau")
MODES = ("min", "max")

# Fields that change neither the trajectory nor the final weights: a run may be resumed with
# other values for them (e.g. on another device, with another time budget or without a bar).
_RUNTIME_FIELDS = frozenset({"device", "checkpoint_dir", "progress", "max_time_s"})


@dataclass
class TrainConfig:
    """How to train one model.

    Attributes:
        epochs: number of epochs (an epoch ends with a validation and a checkpoint).
        steps_per_epoch: optimizer steps per epoch; None takes one full pass over the batches
            ``train_batches`` yields (set it for infinite synthetic streams).
        lr: base learning rate.
        optimizer: ``adam``, ``adamw``, ``rmsprop`` or ``sgd``.
        weight_decay: L2 penalty (decoupled for ``adamw``).
        momentum: momentum of ``sgd`` and ``rmsprop``.
        clip_norm: clip the global gradient norm to this value; None disables clipping (the
            norm is still measured and reported).
        schedule: ``none``; ``cosine`` (decay from ``lr`` to ``min_lr`` over the whole run);
            ``plateau`` (multiply the rate by ``plateau_factor`` after ``plateau_patience``
            epochs without improvement of the monitored metric).
        warmup_steps: linear warm-up from ``lr / warmup_steps`` to ``lr`` over the first steps
            (combines with every schedule).
        min_lr: floor of the cosine schedule.
        plateau_factor: rate multiplier of the ``plateau`` schedule.
        plateau_patience: epochs without improvement before the ``plateau`` schedule cuts.
        patience: early stopping after this many epochs without improvement of the monitored
            metric; None disables early stopping.
        min_delta: an improvement must beat the best value by more than this.
        monitor: validation metric to monitor (a key of ``model.metrics``); without
            validation batches only ``"loss"`` (the training loss) can be monitored.
        mode: ``min`` if lower is better for ``monitor``, ``max`` otherwise.
        seed: seed of every random number generator (weights excluded: seed before building
            the model, see :func:`rnnlab.train.seed_everything`).
        device: ``auto`` (CUDA when available, else CPU), or any torch device string.
        checkpoint_dir: directory of the checkpoint written after every epoch; None writes none.
        progress: show a progress bar (only when stderr is a terminal).
        max_time_s: wall-clock budget in seconds, summed over resumed sessions; the run ends
            after the step that exceeds it (validated and reported as ``time_budget``).
        deterministic: ask torch for deterministic algorithms during ``fit`` (warns instead of
            failing for operations that have none).
        restore_best: load the weights of the best epoch into the model when training ends.
    """

    epochs: int = 10
    steps_per_epoch: int | None = None
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    momentum: float = 0.0
    clip_norm: float | None = 1.0
    schedule: str = "none"
    warmup_steps: int = 0
    min_lr: float = 0.0
    plateau_factor: float = 0.5
    plateau_patience: int = 2
    patience: int | None = None
    min_delta: float = 0.0
    monitor: str = "loss"
    mode: str = "min"
    seed: int = 0
    device: str = "auto"
    checkpoint_dir: str | Path | None = None
    progress: bool = True
    max_time_s: float | None = None
    deterministic: bool = True
    restore_best: bool = True

    def __post_init__(self) -> None:
        _check_int(self, "epochs", minimum=1)
        _check_int(self, "steps_per_epoch", minimum=1, optional=True)
        _check_int(self, "warmup_steps", minimum=0)
        _check_int(self, "plateau_patience", minimum=1)
        _check_int(self, "patience", minimum=1, optional=True)
        _check_int(self, "seed", minimum=0)
        _check_positive(self, "lr")
        _check_positive(self, "clip_norm", optional=True)
        _check_positive(self, "max_time_s", optional=True)
        for name in ("weight_decay", "momentum", "min_lr", "min_delta"):
            _check_positive(self, name, allow_zero=True)
        if not 0.0 < self.plateau_factor < 1.0:
            raise UserInputError(f"plateau_factor must be in (0, 1), got {self.plateau_factor!r}")
        _check_choice(self, "optimizer", OPTIMIZERS)
        _check_choice(self, "schedule", SCHEDULES)
        _check_choice(self, "mode", MODES)
        if not isinstance(self.monitor, str) or not self.monitor:
            raise UserInputError(f"monitor must be a metric name, got {self.monitor!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-typed copy (paths as strings), fit for JSON and ``torch.load(weights_only)``."""
        data = asdict(self)
        if data["checkpoint_dir"] is not None:
            data["checkpoint_dir"] = str(data["checkpoint_dir"])
        return data

    def trajectory_fields(self) -> dict[str, Any]:
        """The fields a resumed run must share with the run that wrote the checkpoint."""
        names = (f.name for f in fields(self) if f.name not in _RUNTIME_FIELDS)
        return {name: getattr(self, name) for name in names}


def _check_int(config: TrainConfig, name: str, *, minimum: int, optional: bool = False) -> None:
    value = getattr(config, name)
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        expected = f"an integer >= {minimum}" + (" or None" if optional else "")
        raise UserInputError(f"{name} must be {expected}, got {value!r}")


def _check_positive(
    config: TrainConfig, name: str, *, optional: bool = False, allow_zero: bool = False
) -> None:
    value = getattr(config, name)
    if value is None and optional:
        return
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        expected = "a finite number " + (">= 0" if allow_zero else "> 0")
        expected += " or None" if optional else ""
        raise UserInputError(f"{name} must be {expected}, got {value!r}")


def _check_choice(config: TrainConfig, name: str, choices: tuple[str, ...]) -> None:
    value = getattr(config, name)
    if value not in choices:
        raise UserInputError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
