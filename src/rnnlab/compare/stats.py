"""Statistics for seeded comparisons: confidence intervals, Welch's t-test, effect sizes.

A difference between two models is called only when Welch's t-test (or a bootstrap test)
gives p < ``ALPHA``; otherwise the verdict is "no significant difference". Effect sizes are
Hedges' g (Cohen's d with the small-sample correction), so readers see how large a
difference is, not only whether it is detectable with this many seeds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

ALPHA = 0.05
NO_DIFFERENCE = "no significant difference"


@dataclass(frozen=True)
class Summary:
    """Mean of ``n`` values with a two-sided confidence interval ``(low, high)``."""

    mean: float
    low: float
    high: float
    std: float
    n: int

    @property
    def half_width(self) -> float:
        """Half the width of the interval (the ``±`` figure)."""
        return (self.high - self.low) / 2


@dataclass(frozen=True)
class Verdict:
    """Outcome of comparing the best model against the runner-up on one metric."""

    winner: str | None
    best: str | None
    runner_up: str | None
    p_value: float | None
    effect_size: float | None
    test: str

    @property
    def text(self) -> str:
        """Human-readable verdict: the winner, or "no significant difference"."""
        if self.winner is None:
            return NO_DIFFERENCE
        return f"{self.winner}"


def _clean(values: Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    return array[np.isfinite(array)]


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> Summary:
    """Mean with a t-distribution confidence interval; non-finite values are dropped.

    With one value the interval collapses to the value itself (its width is unknown, and
    the report says n = 1).
    """
    data = _clean(values)
    n = data.size
    if n == 0:
        nan = float("nan")
        return Summary(nan, nan, nan, nan, 0)
    mean = float(data.mean())
    if n == 1:
        return Summary(mean, mean, mean, 0.0, 1)
    std = float(data.std(ddof=1))
    half = float(sps.t.ppf(0.5 + confidence / 2, df=n - 1)) * std / math.sqrt(n)
    return Summary(mean, mean - half, mean + half, std, n)


def bootstrap_ci(
    values: Sequence[float], confidence: float = 0.95, resamples: int = 10_000, seed: int = 0
) -> Summary:
    """Mean with a percentile bootstrap interval (scipy.stats.bootstrap)."""
    data = _clean(values)
    if data.size < 2:
        return mean_ci(data, confidence)
    result = sps.bootstrap(
        (data,),
        np.mean,
        confidence_level=confidence,
        n_resamples=resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    interval = result.confidence_interval
    return Summary(
        float(data.mean()),
        float(interval.low),
        float(interval.high),
        float(data.std(ddof=1)),
        int(data.size),
    )


def welch_test(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of Welch's unequal-variance t-test (nan if it is undefined)."""
    x, y = _clean(a), _clean(b)
    if x.size < 2 or y.size < 2:
        return float("nan")
    if np.ptp(np.concatenate([x, y])) == 0:
        return 1.0
    return float(sps.ttest_ind(x, y, equal_var=False).pvalue)


def bootstrap_test(
    a: Sequence[float], b: Sequence[float], resamples: int = 10_000, seed: int = 0
) -> float:
    """Two-sided permutation p-value for a difference in means (scipy.stats.permutation_test)."""
    x, y = _clean(a), _clean(b)
    if x.size < 2 or y.size < 2:
        return float("nan")
    result = sps.permutation_test(
        (x, y),
        lambda u, v: np.mean(u) - np.mean(v),
        n_resamples=resamples,
        alternative="two-sided",
        rng=np.random.default_rng(seed),
    )
    return float(result.pvalue)


def cohens_d(a: Sequence[float], b: Sequence[float]) -> float:
    """Cohen's d: difference of means over the pooled standard deviation."""
    x, y = _clean(a), _clean(b)
    if x.size < 2 or y.size < 2:
        return float("nan")
    pooled = ((x.size - 1) * x.var(ddof=1) + (y.size - 1) * y.var(ddof=1)) / (x.size + y.size - 2)
    diff = float(x.mean() - y.mean())
    if pooled == 0:
        return 0.0 if diff == 0 else math.copysign(math.inf, diff)
    return diff / math.sqrt(pooled)


def hedges_g(a: Sequence[float], b: Sequence[float]) -> float:
    """Hedges' g: Cohen's d times the small-sample correction 1 - 3 / (4 (n_a + n_b) - 9)."""
    n = _clean(a).size + _clean(b).size
    d = cohens_d(a, b)
    if not math.isfinite(d):
        return d
    return d * (1 - 3 / (4 * n - 9))


def compare_groups(
    groups: Mapping[str, Sequence[float]],
    higher_is_better: bool,
    method: str = "welch",
    alpha: float = ALPHA,
) -> Verdict:
    """Compare the model with the best mean against the runner-up.

    The best model is named the winner only when the test says p < ``alpha``; the effect
    size is Hedges' g of best vs runner-up, signed so that positive means "best is better".
    """
    if method not in ("welch", "bootstrap"):
        raise ValueError(f"method must be 'welch' or 'bootstrap', got {method!r}")
    means = {name: mean_ci(vals).mean for name, vals in groups.items()}
    ranked = sorted(
        (name for name, m in means.items() if math.isfinite(m)),
        key=lambda name: means[name],
        reverse=higher_is_better,
    )
    if len(ranked) < 2:
        return Verdict(None, ranked[0] if ranked else None, None, None, None, method)
    best, runner_up = ranked[0], ranked[1]
    test = welch_test if method == "welch" else bootstrap_test
    p_value = test(groups[best], groups[runner_up])
    sign = 1.0 if higher_is_better else -1.0
    effect = sign * hedges_g(groups[best], groups[runner_up])
    significant = math.isfinite(p_value) and p_value < alpha
    return Verdict(
        best if significant else None,
        best,
        runner_up,
        None if math.isnan(p_value) else p_value,
        None if math.isnan(effect) else effect,
        method,
    )
