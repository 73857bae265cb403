"""Equivalence margins: the smallest difference between two models that matters, per metric.

Two arms are called *equivalent* only when TOST shows their difference lies inside
``±margin`` (:func:`rnnlab.compare.stats.decide`), so the margin is a judgement a reader must
be able to check. The defaults (docs/comparisons.md):

- accuracies (any metric whose name contains ``accuracy``): **1 percentage point** (0.01);
- explosion scores (events per run): **0.5 events**;
- parameter counts and analytic FLOPs: **3 %** of the arms' mean (the tolerance of
  parameter matching);
- everything else (losses, MSE, bits per character, NLL, steps, seconds, horizons, gradient
  decay rates): **5 %** of the mean of the two arms' absolute means.

``--margin`` overrides them: ``0.02`` is an absolute margin in the metric's units, ``2%`` a
relative one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rnnlab.errors import UserInputError

ACCURACY_MARGIN = 0.01
EXPLOSION_MARGIN = 0.5
EXACT_MARGIN = 0.03
RELATIVE_MARGIN = 0.05
#: ``--margin`` help of the commands that decide comparisons (``%%``: argparse formatting).
MARGIN_HELP = (
    "equivalence margin of every verdict: 0.01 (absolute, in the metric's units) or 5%% "
    "(relative to the two models' mean); default per metric: 1 point of accuracy, 0.5 "
    "explosion events, 3%% for parameters and FLOPs, 5%% otherwise"
)
#: Metrics that do not depend on the seed (compared within :data:`EXACT_MARGIN`).
EXACT_METRICS = frozenset({"params", "flops_per_step"})


@dataclass(frozen=True)
class Margin:
    """An equivalence margin: ``value`` in the metric's units, or a fraction of its scale."""

    value: float
    relative: bool

    def resolve(self, a: Sequence[float], b: Sequence[float]) -> float:
        """The margin in the metric's units for arms ``a`` and ``b`` (0 if they have no data)."""
        if not self.relative:
            return self.value
        means = [np.mean(v) for v in (_finite(a), _finite(b)) if v.size]
        scale = float(np.mean(np.abs(means))) if means else 0.0
        return self.value * scale if math.isfinite(scale) else 0.0

    @property
    def text(self) -> str:
        """``±0.01`` or ``±5 %``."""
        return f"±{self.value * 100:g} %" if self.relative else f"±{self.value:g}"


def _finite(values: Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    return array[np.isfinite(array)]


def default_margin(metric: str) -> Margin:
    """The documented default margin of ``metric`` (module docstring)."""
    name = metric.lower()
    if "accuracy" in name:
        return Margin(ACCURACY_MARGIN, relative=False)
    if name == "explosion_score":
        return Margin(EXPLOSION_MARGIN, relative=False)
    if name in EXACT_METRICS:
        return Margin(EXACT_MARGIN, relative=True)
    return Margin(RELATIVE_MARGIN, relative=True)


def parse_margin(text: str | float | None) -> Margin | None:
    """``"0.02"`` -> absolute 0.02, ``"2%"`` -> relative 0.02, None -> None (use defaults).

    Raises:
        UserInputError: not a number, or negative.
    """
    if text is None:
        return None
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(%?)\s*", str(text))
    if not match:
        raise UserInputError(f"--margin must look like 0.01 or 5%, got {text!r}")
    value = float(match.group(1))
    relative = bool(match.group(2))
    return Margin(value / 100 if relative else value, relative)
