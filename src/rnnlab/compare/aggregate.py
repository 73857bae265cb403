"""Aggregates across tasks: is one model better over a whole suite, and how sure are we?

Following Agarwal et al. 2021 ("Deep RL at the edge of the statistical precipice", the
rliable library), implemented here with numpy and scipy:

- **normalised score** of a run on a task: 0 = the task's chance level (a trivial
  strategy; where the task defines none, the worst run observed on it), 1 = the best run
  observed on it, in the metric's direction (so lower-is-better losses are flipped);
- **interquartile mean (IQM)** of a model's normalised scores over all its (task, seed)
  runs: the mean of the middle 50 %, robust to one task or seed that fails outright, and
  less noisy than the median;
- **stratified bootstrap CIs**: seeds are resampled within each task (the tasks stay
  fixed), ``resamples`` times, and the percentile interval is reported;
- **probability of improvement** P(A > B): per task, the chance that a random seed of A
  scores better than a random seed of B (Mann–Whitney, ties count half), averaged over
  tasks, with a stratified bootstrap CI; 0.5 means no edge either way;
- **performance profile**: the fraction of a model's runs whose normalised score exceeds
  τ, for τ from 0 to 1 (one curve per model, with bootstrap bands).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

#: Resamples of the stratified bootstraps, and their seed (results are reproducible).
RESAMPLES = 2_000
SEED = 0


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its (percentile bootstrap) confidence interval."""

    value: float
    low: float
    high: float

    def text(self, digits: int = 2) -> str:
        """``0.71 [0.60, 0.80]``."""
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def normalise(
    runs: pd.DataFrame,
    higher_is_better: Mapping[str, bool],
    chance: Mapping[str, float | None] | None = None,
) -> pd.DataFrame:
    """``runs`` (columns ``task``, ``model``, ``seed``, ``value``) with a ``score`` column.

    Non-finite values are dropped. A task whose runs all score the same is dropped too
    (nothing to normalise by).
    """
    chance = chance or {}
    parts = []
    for task, rows in runs[np.isfinite(runs["value"].astype(float))].groupby("task", sort=False):
        values = rows["value"].astype(float)
        sign = 1.0 if higher_is_better[task] else -1.0
        best = float((sign * values).max()) * sign
        zero = chance.get(task)
        if zero is None or not math.isfinite(zero):
            zero = float((sign * values).min()) * sign
        if best == zero:
            continue
        parts.append(rows.assign(score=(values - zero) / (best - zero)))
    if not parts:
        return runs.iloc[0:0].assign(score=pd.Series(dtype=float))
    return pd.concat(parts, ignore_index=True)


def iqm(values: Sequence[float] | np.ndarray) -> float:
    """Interquartile mean: the mean of the middle 50 % (scipy.stats.trim_mean at 25 %)."""
    data = np.asarray(values, dtype=float)
    return float(sps.trim_mean(data, 0.25)) if data.size else math.nan


def _strata(scores: pd.DataFrame, model: str) -> list[np.ndarray]:
    rows = scores[scores["model"] == model]
    return [g["score"].to_numpy(dtype=float) for _, g in rows.groupby("task", sort=True)]


def _resample(strata: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    return [s[rng.integers(0, s.size, s.size)] for s in strata]


def _interval(point: float, draws: np.ndarray, confidence: float) -> Estimate:
    tail = (1 - confidence) / 2 * 100
    low, high = np.nanpercentile(draws, [tail, 100 - tail])
    return Estimate(point, float(low), float(high))


def iqm_ci(
    scores: pd.DataFrame, model: str, confidence: float = 0.95, resamples: int = RESAMPLES
) -> Estimate:
    """IQM of ``model``'s normalised scores with a stratified bootstrap CI."""
    strata = _strata(scores, model)
    if not strata:
        return Estimate(math.nan, math.nan, math.nan)
    rng = np.random.default_rng(SEED)
    draws = np.array([iqm(np.concatenate(_resample(strata, rng))) for _ in range(resamples)])
    return _interval(iqm(np.concatenate(strata)), draws, confidence)


def _p_better(x: np.ndarray, y: np.ndarray) -> float:
    """P(a random x beats a random y), ties half (the Mann–Whitney U over n·m)."""
    return float(((x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])).mean())


def probability_of_improvement(
    scores: pd.DataFrame, a: str, b: str, confidence: float = 0.95, resamples: int = RESAMPLES
) -> Estimate:
    """P(``a`` beats ``b`` on a random task and seed) with a stratified bootstrap CI.

    Only tasks where both models have scores count.
    """
    tasks = sorted(
        set(scores.loc[scores["model"] == a, "task"])
        & set(scores.loc[scores["model"] == b, "task"])
    )
    if not tasks:
        return Estimate(math.nan, math.nan, math.nan)
    pairs = [
        tuple(
            scores.loc[(scores["task"] == t) & (scores["model"] == m), "score"].to_numpy(float)
            for m in (a, b)
        )
        for t in tasks
    ]
    point = float(np.mean([_p_better(x, y) for x, y in pairs]))
    rng = np.random.default_rng(SEED)
    draws = np.empty(resamples)
    for i in range(resamples):
        draws[i] = np.mean(
            [_p_better(*(_resample([x, y], rng))) for x, y in pairs]  # type: ignore[misc]
        )
    return _interval(point, draws, confidence)


@dataclass(frozen=True)
class Profile:
    """A performance profile: at each τ, the fraction of runs scoring above it, with a band."""

    taus: np.ndarray
    fraction: np.ndarray
    low: np.ndarray
    high: np.ndarray


def performance_profile(
    scores: pd.DataFrame,
    model: str,
    taus: np.ndarray | None = None,
    confidence: float = 0.95,
    resamples: int = 500,
) -> Profile:
    """Fraction of ``model``'s runs with normalised score > τ, with a stratified band."""
    taus = np.linspace(0, 1, 41) if taus is None else np.asarray(taus, dtype=float)
    strata = _strata(scores, model)
    if not strata:
        empty = np.full(taus.shape, np.nan)
        return Profile(taus, empty, empty, empty)

    def curve(parts: list[np.ndarray]) -> np.ndarray:
        data = np.concatenate(parts)
        return (data[None, :] > taus[:, None]).mean(axis=1)

    rng = np.random.default_rng(SEED)
    draws = np.stack([curve(_resample(strata, rng)) for _ in range(resamples)])
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail], axis=0)
    return Profile(taus, curve(strata), low, high)


def overall_answer(scores: pd.DataFrame, a: str, b: str) -> str:
    """One sentence: IQMs of ``a`` and ``b`` and P(a > b) with CIs, and what they say.

    ``a`` is called better overall only when the CI of P(a > b) lies above 0.5 (and ``b``
    when it lies below); otherwise the suite does not settle it.
    """
    tasks = scores["task"].nunique()
    ia, ib = iqm_ci(scores, a), iqm_ci(scores, b)
    p = probability_of_improvement(scores, a, b)
    if math.isnan(p.value):
        return f"{a} vs {b}: no task where both have finished runs."
    if p.low > 0.5:
        answer = f"{a} is better overall"
    elif p.high < 0.5:
        answer = f"{b} is better overall"
    else:
        answer = "the suite does not settle which is better overall"
    return (
        f"{a} vs {b} over {tasks} task{'s' if tasks != 1 else ''}: normalised IQM "
        f"{a} {ia.text()} vs {b} {ib.text()}; P({a} beats {b} on a random task and seed) = "
        f"{p.text()} (95 % stratified bootstrap CIs): {answer}."
    )
