"""Training: ``Trainer(model, TrainConfig(...)).fit(train_batches, val_batches) -> TrainResult``.

Gradient clipping, LR schedules, early stopping, a NaN/Inf guard, atomic per-epoch checkpoints
and exact resume, seeding for bit-for-bit repeatable CPU runs. See docs/training.md.
"""

from rnnlab.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from rnnlab.train.config import TrainConfig
from rnnlab.train.device import resolve_device, to_device
from rnnlab.train.seeding import seed_everything
from rnnlab.train.trainer import EpochRecord, StepInfo, Trainer, TrainResult, mean_metrics

__all__ = [
    "CheckpointError",
    "EpochRecord",
    "StepInfo",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "load_checkpoint",
    "mean_metrics",
    "resolve_device",
    "save_checkpoint",
    "seed_everything",
    "to_device",
]
