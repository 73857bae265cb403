"""Confidence intervals of a mean that stay inside the metric's range.

A symmetric t-interval around a mean of MSEs can reach below zero, and one around accuracies
above one. Here the t-interval is built on a scale where the range is unbounded — log for
metrics that are never negative (losses, errors, counts, times), logit for proportions
(accuracy) — and mapped back with the delta method: for the log scale the interval is
``mean · exp(± t · se / mean)``, for the logit scale it is ``logit⁻¹(logit(mean) ±
t · se / (mean (1 − mean)))``. The centre stays the arithmetic mean; the interval becomes
asymmetric where the range demands it. Metrics without a bound use the plain t-interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats as sps
from scipy.special import expit, logit

from rnnlab.compare.stats import Summary

PROPORTION, NON_NEGATIVE, UNBOUNDED = "proportion", "non-negative", "unbounded"

_PROPORTIONS = ("accuracy", "acc", "f1", "auc", "solved", "coverage")
_NON_NEGATIVE = (
    "mse", "rmse", "mae", "mase", "smape", "loss", "bpc", "perplexity", "params", "flops",
    "time", "seconds", "steps", "explosion", "horizon", "latency", "memory", "count",
    "pinball", "crps",
)  # fmt: skip

METHOD = {
    PROPORTION: "t-interval on the logit scale",
    NON_NEGATIVE: "t-interval on the log scale",
    UNBOUNDED: "t-interval",
}
"""How the interval of each kind of metric is computed, in words for a report."""


def metric_range(metric: str) -> str:
    """``proportion`` (in [0, 1]), ``non-negative`` or ``unbounded``, from the metric's name
    (``test_mse``, ``val_accuracy``, ``flops_per_step``, ...)."""
    words = metric.lower().replace("-", "_").split("_")
    if any(w in _PROPORTIONS for w in words):
        return PROPORTION
    if any(w in _NON_NEGATIVE for w in words):
        return NON_NEGATIVE
    return UNBOUNDED


def range_ci(values: Sequence[float], metric: str, confidence: float = 0.95) -> Summary:
    """Mean of ``values`` with a ``confidence`` interval inside ``metric``'s range.

    Non-finite values are dropped. One value gives a zero-width interval (the report says
    n = 1); equal values too. A mean on the range's edge (all zeros, all ones) has no spread
    on the transformed scale and also collapses to the point.
    """
    data = np.asarray(values, dtype=float)
    data = data[np.isfinite(data)]
    n = int(data.size)
    if n == 0:
        return Summary(math.nan, math.nan, math.nan, math.nan, 0)
    mean = float(data.mean())
    std = float(data.std(ddof=1)) if n > 1 else 0.0
    if n == 1 or std == 0:
        return Summary(mean, mean, mean, std, n)
    half = float(sps.t.ppf(0.5 + confidence / 2, df=n - 1)) * std / math.sqrt(n)
    kind = metric_range(metric)
    if (kind == NON_NEGATIVE and data.min() < 0) or (
        kind == PROPORTION and (data.min() < 0 or data.max() > 1)
    ):
        kind = UNBOUNDED  # the name misled: these values have no such bound
    if kind == NON_NEGATIVE and mean > 0:
        factor = math.exp(half / mean)
        return Summary(mean, mean / factor, mean * factor, std, n)
    if kind == PROPORTION and 0 < mean < 1:
        centre, spread = float(logit(mean)), half / (mean * (1 - mean))
        return Summary(mean, float(expit(centre - spread)), float(expit(centre + spread)), std, n)
    if kind == UNBOUNDED:
        return Summary(mean, mean - half, mean + half, std, n)
    return Summary(mean, mean, mean, std, n)  # on the range's edge
