"""Run units: what one run is (:class:`RunConfig` + seed + phase) and what it returns.

A run is a pure function ``run_fn(config, seed, checkpoint_dir) -> RunResult`` of plain,
JSON-serialisable data, so units can go to worker processes (or, later, other machines).
The checkpoint directory only lets an interrupted run resume; it never changes the result.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Phase = Literal["tune", "final"]


@dataclass
class RunConfig:
    """Everything that defines one training run except the seed.

    ``task_options`` are the task's size knobs (length, number of sequences, ...);
    ``train`` holds the training settings (``lr``, ``epochs``, ``batch_size``, ``clip``, ...).
    ``budget`` is the parameter budget the hidden size was matched to, if any.
    """

    task: str
    model: str
    hidden_size: int
    task_options: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    num_layers: int = 1
    budget: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON-ready data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


@dataclass
class RunResult:
    """Outcome of one run.

    ``status`` is ``done``, ``diverged`` (NaN/Inf loss; ``error`` says at which step) or
    ``failed``. ``metrics`` holds ``val_<name>`` (best validation) and ``test_<name>``;
    ``curves`` per-epoch lists (``epoch``, ``train_loss``, ``val_loss``, ``val_<metric>``);
    ``cost`` the cost figures (see :mod:`rnnlab.compare.cost`).
    """

    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)
    cost: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class RunUnit:
    """One run to execute: a config, a seed and a phase (``tune`` or ``final``)."""

    config: RunConfig
    seed: int
    phase: Phase

    @property
    def key(self) -> str:
        """Stable identity of the run: a hash of config, seed and phase."""
        payload = json.dumps(
            {"config": self.config.to_dict(), "seed": self.seed, "phase": self.phase},
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:20]


RunFn = Callable[[RunConfig, int, Path | None], RunResult]


def versions() -> dict[str, str]:
    """Versions of the software a run used (stored with every row)."""
    import numpy
    import torch

    import rnnlab

    return {
        "rnnlab": rnnlab.__version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": machine(),
    }


def machine() -> str:
    """The processor model and the number of CPUs of this machine, e.g. ``Intel(R) Xeon(R)
    Processor, 2 CPUs``."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            model = next(
                (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                model,
            )
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs"
