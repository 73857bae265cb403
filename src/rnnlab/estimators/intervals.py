"""Prediction intervals calibrated on held-out windows: conformalized quantile regression.

Quantile heads trained with the pinball loss are often too narrow on short series (80 %
intervals covering 22–70 % of actuals in backtests). CQR (Romano, Patterson & Candès 2019)
corrects them after training: on windows the network did not train on, each interval
``(lo, hi)`` of nominal coverage ``c = hi − lo`` gets the conformity score
``E = max(lo − y, y − hi)`` (how far the actual lies outside, negative inside), and the
interval is widened (or narrowed, when ``E`` is mostly negative) by ``Q``, the
``⌈(n + 1) · c⌉``-th smallest of the ``n`` scores. With exchangeable windows that gives
coverage of at least ``c`` in finite samples. The forecaster calibrates on its validation
windows: not trained on, but they chose the early-stopping epoch, and consecutive windows
overlap, so the guarantee is approximate; the backtest measures the coverage reached.

Levels pair by rank: the lowest with the highest, and so on inwards among the levels on
either side of the median (``(0.1, 0.9)`` for the defaults). The median is the point
forecast and never moves, and a narrowed bound stops at the next inner level, so quantiles
never cross.

How many scores are enough: with ``n`` scores the attained coverage is itself random
(Beta-distributed, standard deviation about ``√(c(1 − c)/n)``: 0.09 at ``n = 20``, c = 0.8).
Scores are taken **per horizon step** (and per target) when the fit has at least
:data:`MIN_SCORES` windows, since errors grow with the step; with fewer windows they are
**pooled over the steps** (one ``Q`` for all steps) when that gives at least
:data:`MIN_SCORES` scores; otherwise the intervals stay as the network made them, and the
calibration says why. A pair whose corrected rank exceeds ``n`` (an interval too wide for so
few scores, e.g. 98 % from 20) is left as it is, and named.

Everything here works on the network's own units (each window on its own scale, relative to
the seasonal baseline; see :mod:`rnnlab.estimators.forecast_inputs`), so one ``Q`` serves
series of different levels and a series that trends: it is rescaled with each window.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

# Fewest scores (windows per step, or windows × steps pooled) a calibration is made from.
MIN_SCORES = 20


def conformal_quantile(scores: np.ndarray, coverage: float) -> np.ndarray:
    """The ``⌈(n + 1) · coverage⌉``-th smallest of the ``n`` scores along axis 0 (the
    split-conformal quantile with its finite-sample correction); ``inf`` where that rank
    exceeds ``n`` (no finite interval has the guarantee)."""
    scores = np.asarray(scores, dtype=np.float64)
    n = scores.shape[0]
    # Rounded first: (n + 1) · 0.8 must not become 20.000000000000004 and rank 21.
    rank = math.ceil(round((n + 1) * coverage, 9))
    if rank > n:
        return np.full(scores.shape[1:], np.inf)
    return np.sort(scores, axis=0)[max(rank, 1) - 1]


def interval_pairs(levels: tuple[float, ...]) -> list[tuple[int, int]]:
    """Indices of the (lower, upper) levels paired by rank from the outside in, among the
    levels below and above the median (a level without a partner is not paired)."""
    middle = _median_index(levels)
    return [(i, len(levels) - 1 - i) for i in range(min(middle, len(levels) - 1 - middle))]


def _median_index(levels: tuple[float, ...]) -> int:
    return int(np.argmin(np.abs(np.asarray(levels) - 0.5)))


def uncalibrated(reason: str) -> dict[str, Any]:
    """The calibration record of intervals left as the network made them, and why."""
    return {"method": None, "reason": reason}


def calibrate(
    forecast: Tensor, truth: Tensor, levels: tuple[float, ...], min_scores: int = MIN_SCORES
) -> dict[str, Any]:
    """CQR adjustments from held-out forecasts.

    Args:
        forecast: quantile forecasts (N windows, H steps, n_targets, Q levels), levels sorted.
        truth: the actuals (N, H, n_targets), in the same units.
        levels: the quantile levels of the last axis (sorted, 0.5 among them).
        min_scores: see :data:`MIN_SCORES`.

    Returns:
        A JSON-ready record: ``method`` (``"cqr per step"``, ``"cqr pooled over steps"`` or
        None), ``windows``, ``pairs`` (level pairs), ``adjust`` (H × n_targets × pairs, added
        outwards to each pair) and ``reason`` (why not, or which pairs were left).
    """
    n, horizon = forecast.shape[:2]
    pairs = interval_pairs(levels)
    if not pairs:
        return uncalibrated("no interval: only the median is forecast")
    if n >= min_scores:
        method, pool = "cqr per step", False
    elif n * horizon >= min_scores:
        method, pool = "cqr pooled over steps", True
    else:
        return uncalibrated(
            f"only {n} validation window(s) × {horizon} step(s); calibration needs "
            f"{min_scores} windows (per step) or {min_scores} window-steps (pooled)"
        )
    f = forecast.detach().double().numpy()
    y = truth.detach().double().numpy()
    adjust = np.zeros((horizon, f.shape[2], len(pairs)))
    left = []
    for p, (lo, hi) in enumerate(pairs):
        scores = np.maximum(f[..., lo] - y, y - f[..., hi])  # (N, H, n_targets)
        if pool:
            scores = scores.transpose(1, 0, 2).reshape(n * horizon, 1, -1)
        q = conformal_quantile(scores, levels[hi] - levels[lo])
        if np.isfinite(q).all():
            adjust[..., p] = q
        else:
            left.append(f"{levels[lo]:g}–{levels[hi]:g}")
    return {
        "method": method,
        "windows": int(n),
        "pairs": [[levels[lo], levels[hi]] for lo, hi in pairs],
        "adjust": adjust.tolist(),
        "reason": f"too few scores for the {', '.join(left)} interval(s), left as they are"
        if left
        else None,
    }


def apply_calibration(
    forecast: Tensor, levels: tuple[float, ...], calibration: dict[str, Any] | None
) -> Tensor:
    """``forecast`` (N, H, n_targets, Q) with each pair moved outwards by its adjustment
    (inwards when negative), no bound crossing the next inner level; unchanged without a
    calibration."""
    if not calibration or not calibration.get("method"):
        return forecast
    adjust = torch.tensor(calibration["adjust"], dtype=forecast.dtype)  # (H, n_targets, P)
    out = forecast.clone()
    for p, (lo, hi) in enumerate(interval_pairs(levels)):
        out[..., lo] = out[..., lo] - adjust[..., p]
        out[..., hi] = out[..., hi] + adjust[..., p]
    # From the median outwards: a lower level at most the next inner one, an upper at least.
    middle = _median_index(levels)
    for i in range(middle - 1, -1, -1):
        out[..., i] = torch.minimum(out[..., i], out[..., i + 1])
    for i in range(middle + 1, len(levels)):
        out[..., i] = torch.maximum(out[..., i], out[..., i - 1])
    return out


def describe(calibration: dict[str, Any] | None) -> str:
    """A few words for the fit's summary line."""
    if not calibration:
        return "intervals as trained (model saved before calibration)"
    if not calibration.get("method"):
        return f"intervals not calibrated ({calibration['reason']})"
    pairs = ", ".join(f"{lo:g}–{hi:g}" for lo, hi in calibration["pairs"])
    note = f"; {calibration['reason']}" if calibration.get("reason") else ""
    return (
        f"{pairs} interval calibrated ({calibration['method']}, "
        f"{calibration['windows']} validation windows{note})"
    )
