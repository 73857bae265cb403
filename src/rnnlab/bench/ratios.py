"""Ratios of paired timings: median over pairs with a bootstrap CI, the noise floor that
same-kernel controls show, and the verdict a ratio earns against it."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

LEVEL = 0.95
"""Confidence level of every ratio's interval."""
RESAMPLES = 2000


@dataclass(frozen=True)
class Ratio:
    """Median of the per-pair ratios and its bootstrap CI (percentile, over pairs)."""

    median: float
    low: float
    high: float


def paired_ratio(
    case: Sequence[float], base: Sequence[float], *, scale: float = 1.0, seed: int = 0
) -> Ratio:
    """``scale × case_i / base_i`` over pairs measured in the same round: its median and 95 %
    bootstrap CI (the pairs resampled; fewer than 3 distinct ratios give the min–max)."""
    if len(case) != len(base) or not case:
        raise ValueError(
            f"need equally many case and baseline samples, got {len(case)}, {len(base)}"
        )
    ratios = scale * np.asarray(case, dtype=float) / np.asarray(base, dtype=float)
    median = float(np.median(ratios))
    if len(np.unique(ratios)) < 3:
        return Ratio(median, float(ratios.min()), float(ratios.max()))
    result = stats.bootstrap(
        (ratios,),
        np.median,
        confidence_level=LEVEL,
        n_resamples=RESAMPLES,
        method="percentile",
        random_state=np.random.default_rng(seed),  # `rng=` only from scipy 1.15
    )
    interval = result.confidence_interval
    # a median of resampled pairs lies within the pairs; the percentile's interpolation can
    # step an ulp outside them
    low, high = np.clip([interval.low, interval.high], ratios.min(), ratios.max())
    return Ratio(median, float(low), float(high))


def noise_floor(controls: Iterable[Ratio]) -> float | None:
    """How far from 1 (as a fraction) the same-kernel controls' CIs reach, the widest of them:
    a ratio within ``[1/(1+f), 1+f]`` of 1 is indistinguishable from running the same kernel
    twice. None without controls."""
    reach = [max(abs(math.log(r.low)), abs(math.log(r.high))) for r in controls]
    return math.exp(max(reach)) - 1 if reach else None


def verdict(ratio: Ratio, floor: float | None) -> str:
    """``faster`` / ``slower`` when the whole CI lies beyond the noise floor, else ``parity``
    (no difference shown, which is not proof of equality)."""
    band = floor or 0.0
    if ratio.high < 1 / (1 + band):
        return "faster"
    if ratio.low > 1 + band:
        return "slower"
    return "parity"
