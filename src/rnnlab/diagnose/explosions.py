"""Exploding gradients: spikes in the global gradient norm while training without clipping.

A step is an *explosion event* when its global gradient norm exceeds ``factor`` (10) times
the median of the preceding ``window`` steps' norms — a running median, so slow drifts of
the norm during training are not counted, only sudden jumps. A non-finite norm is a
*divergence*: the run cannot continue from there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class ExplosionSummary:
    """What :func:`explosion_events` found in one run's per-step gradient norms."""

    steps: int
    events: int
    event_steps: list[int]
    diverged: bool
    divergence_step: int | None
    median: float
    p99: float
    max: float

    def to_dict(self) -> dict:
        """Plain-JSON form (for a results store)."""
        return asdict(self)


def running_median(values: np.ndarray, window: int) -> np.ndarray:
    """Median of the ``window`` values before each position (``nan`` at position 0)."""
    values = np.asarray(values, dtype=float)
    out = np.full(len(values), np.nan)
    for i in range(1, len(values)):
        out[i] = np.median(values[max(0, i - window) : i])
    return out


def explosion_events(
    grad_norms: np.ndarray, *, factor: float = 10.0, window: int = 50, warmup: int = 5
) -> ExplosionSummary:
    """Count the steps whose gradient norm exceeds ``factor`` × the running median.

    Args:
        grad_norms: the global gradient norm (before any clipping) of each training step.
        factor: how many times the running median a norm must exceed to count.
        window: how many preceding steps the running median looks at.
        warmup: steps at the start that are never counted (the median needs a history).
    """
    norms = np.asarray(grad_norms, dtype=float)
    if norms.ndim != 1:
        raise ValueError(f"grad_norms must be 1-D (one norm per step), got shape {norms.shape}")
    if factor <= 1:
        raise ValueError(f"factor must exceed 1, got {factor}")
    bad = np.flatnonzero(~np.isfinite(norms))
    divergence_step = int(bad[0]) if bad.size else None
    finite = norms[: divergence_step if divergence_step is not None else len(norms)]
    median = running_median(finite, window)
    spikes = np.flatnonzero(finite > factor * median)
    spikes = [int(s) for s in spikes if s >= warmup]
    described = finite if finite.size else np.array([np.nan])
    return ExplosionSummary(
        steps=len(norms),
        events=len(spikes),
        event_steps=spikes,
        diverged=divergence_step is not None,
        divergence_step=divergence_step,
        median=float(np.median(described)),
        p99=float(np.percentile(described, 99)),
        max=float(np.max(described)),
    )
