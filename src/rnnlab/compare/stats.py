"""Statistics for seeded comparisons: confidence intervals, tests, effect sizes, decisions.

:func:`decide` is the one decision rule of rnnlab (docs/comparisons.md has worked examples):

- **a better / b better**: the two-sided test of the mean difference gives p < ``alpha``.
  The test is Welch's t-test, unless its assumptions fail, in which case it is a
  permutation test: both arms have zero spread (t is undefined), or an arm of
  ``NORMALITY_MIN_N`` (5) or more seeds fails Shapiro–Wilk at 0.05 (an outlier seed, heavy
  ties). With fewer seeds normality cannot be checked (Shapiro–Wilk only flags ties there)
  and a permutation test could never reach p < 0.05 at 3 vs 3, so Welch is used.
- **equivalent**: otherwise, two one-sided tests (TOST, Lakens 2017) at ``alpha`` show the
  difference lies inside ``(-margin, +margin)`` (Welch TOST, or permutation TOST when the
  permutation test was chosen).
- **inconclusive**: neither. The decision then carries the smallest difference these seeds
  detect with power 0.8, and the seeds per arm that would detect a difference of ``margin``.

Absence of a significant difference is never read as equivalence. :func:`holm` adjusts a
family of p-values (a claim's contrasts, a suite's table) and :func:`adjust` re-decides a
family with them. Effect sizes are Hedges' g (Cohen's d with the small-sample correction).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats as sps

from rnnlab.compare.margins import Margin

ALPHA = 0.05
A_BETTER, B_BETTER, EQUIVALENT, INCONCLUSIVE = "a better", "b better", "equivalent", "inconclusive"
OUTCOMES = (A_BETTER, B_BETTER, EQUIVALENT, INCONCLUSIVE)
#: Power at which :attr:`Decision.detectable` is computed.
POWER = 0.8
#: Shapiro–Wilk level below which an arm counts as not normal (Welch is then replaced).
NORMALITY_ALPHA = 0.05
#: Fewest seeds in an arm for its normality to be checked at all.
NORMALITY_MIN_N = 5
#: Resamples of the permutation and bootstrap procedures (exact enumeration when fewer exist).
RESAMPLES = 9_999


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
    with warnings.catch_warnings():  # scipy warns on nearly equal samples; p is still right
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(sps.ttest_ind(x, y, equal_var=False).pvalue)


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


@dataclass(frozen=True)
class Decision:
    """What seeded runs of arms ``a`` and ``b`` say (see :func:`decide`).

    Attributes:
        outcome: ``"a better"``, ``"b better"``, ``"equivalent"`` or ``"inconclusive"``.
        p_value: two-sided p of the difference test (nan when it is undefined: n < 2).
        diff: mean(a) − mean(b) (nan when an arm has no finite value).
        diff_ci: ``(1 − alpha)`` interval of ``diff`` (Welch's t interval, or a bootstrap
            percentile interval when the permutation test was used).
        effect: Hedges' g of a − b (same sign as ``diff``; ±inf when both arms have zero
            spread and differ, nan when undefined).
        margin: the equivalence margin the decision used.
        alpha: the level it used.
        test: ``"welch"``, ``"permutation"`` or ``""`` (too few values to test).
        p_equivalence: TOST p (the larger of the two one-sided p-values; nan if undefined).
        detectable: smallest |a − b| these seeds detect with power 0.8 at ``alpha`` (nan when
            the spread is unknown or zero).
        seeds_needed: seeds per arm that would detect a difference of ``margin`` with power
            0.8 (None when unknown).
        n_a, n_b: finite values used per arm (non-finite ones are dropped and counted in
            ``note``).
        note: why the decision is limited (too few values, dropped values, test choice).
    """

    outcome: str
    p_value: float
    diff: float
    diff_ci: tuple[float, float]
    effect: float
    margin: float
    alpha: float
    test: str
    p_equivalence: float
    detectable: float
    seeds_needed: int | None
    n_a: int
    n_b: int
    higher_is_better: bool
    note: str = ""

    def describe(self, a: str = "a", b: str = "b") -> str:
        """One line: the outcome in words, the difference with its CI, p, g and the margin."""
        words = self.words(a, b)
        parts = [f"margin ±{self.margin:.3g}"]
        if math.isfinite(self.diff):
            low, high = self.diff_ci
            parts.insert(0, f"{a} − {b} = {self.diff:+.3g} [{low:+.3g}, {high:+.3g}]")
        if math.isfinite(self.p_value):
            parts.append(f"{self.test} p = {self.p_value:.3g}")
        if math.isfinite(self.p_equivalence):
            parts.append(f"TOST p = {self.p_equivalence:.3g}")
        if math.isfinite(self.effect):
            parts.append(f"g = {self.effect:+.2f}")
        if self.outcome == INCONCLUSIVE and self.test:
            parts.append(self.settle_text())
        if self.note:
            parts.append(self.note)
        return f"{words} ({'; '.join(parts)})"

    def words(self, a: str = "a", b: str = "b") -> str:
        """``lstm better``, ``equivalent within ±0.01``, ``inconclusive``."""
        return {
            A_BETTER: f"{a} better",
            B_BETTER: f"{b} better",
            EQUIVALENT: f"equivalent within ±{self.margin:.3g}",
            INCONCLUSIVE: "inconclusive",
        }[self.outcome]

    def settle_text(self) -> str:
        """'detectable difference ±0.04 with n=3; ~12 seeds per arm would detect ±0.01'."""
        text = f"n = {self.n_a}/{self.n_b}"
        if math.isfinite(self.detectable):
            text = f"detectable difference ±{self.detectable:.3g} with {text}"
        if self.seeds_needed is not None:
            text += f"; ~{self.seeds_needed} seeds per arm would detect ±{self.margin:.3g}"
        return text


def _normal_enough(x: np.ndarray) -> bool:
    if x.size < NORMALITY_MIN_N or np.ptp(x) == 0:
        return True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bool(sps.shapiro(x).pvalue >= NORMALITY_ALPHA)


def _permutation_p(x: np.ndarray, y: np.ndarray, alternative: str) -> float:
    result = sps.permutation_test(
        (x, y),
        lambda u, v, axis: np.mean(u, axis=axis) - np.mean(v, axis=axis),
        vectorized=True,
        n_resamples=RESAMPLES,
        alternative=alternative,
        rng=np.random.default_rng(0),
    )
    return float(min(1.0, result.pvalue))


def _bootstrap_diff_ci(x: np.ndarray, y: np.ndarray, confidence: float) -> tuple[float, float]:
    if np.ptp(x) == 0 and np.ptp(y) == 0:
        diff = float(x.mean() - y.mean())
        return diff, diff
    result = sps.bootstrap(
        (x, y),
        lambda u, v, axis: np.mean(u, axis=axis) - np.mean(v, axis=axis),
        vectorized=True,
        confidence_level=confidence,
        n_resamples=RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(0),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _welch(x: np.ndarray, y: np.ndarray, margin: float, alpha: float):
    with warnings.catch_warnings():  # scipy warns on nearly equal samples; p is still right
        warnings.simplefilter("ignore", RuntimeWarning)
        result = sps.ttest_ind(x, y, equal_var=False)
        interval = result.confidence_interval(confidence_level=1 - alpha)
        if margin > 0:  # TOST: one Welch test at each edge of the margin
            above = sps.ttest_ind(x + margin, y, equal_var=False, alternative="greater")
            below = sps.ttest_ind(x - margin, y, equal_var=False, alternative="less")
            p_equivalence = float(max(above.pvalue, below.pvalue))
        else:
            p_equivalence = 1.0
    return float(result.pvalue), (float(interval.low), float(interval.high)), p_equivalence


def _permutation(x: np.ndarray, y: np.ndarray, margin: float, alpha: float):
    p_value = _permutation_p(x, y, "two-sided")
    if margin > 0:  # TOST by shifting one arm to each edge of the margin
        p_equivalence = max(
            _permutation_p(x + margin, y, "greater"), _permutation_p(x - margin, y, "less")
        )
    else:
        p_equivalence = 1.0
    return p_value, _bootstrap_diff_ci(x, y, 1 - alpha), p_equivalence


def _power_figures(
    x: np.ndarray, y: np.ndarray, margin: float, alpha: float
) -> tuple[float, int | None]:
    """Detectable difference and seeds needed, by the usual t approximation of power:
    a true difference δ is found with power 0.8 when δ ≥ (t_{1−α/2} + t_{0.8}) · SE, with
    SE from the pooled sd and df = n_a + n_b − 2 (within a few % of the noncentral t; a
    closed form, because this runs at every look of a sequential design)."""
    pooled = ((x.size - 1) * x.var(ddof=1) + (y.size - 1) * y.var(ddof=1)) / (x.size + y.size - 2)
    sd = math.sqrt(pooled)
    if not sd > 0:
        return math.nan, None

    def multiplier(df: float) -> float:
        return float(sps.t.ppf(1 - alpha / 2, df) + sps.t.ppf(POWER, df))

    detectable = multiplier(x.size + y.size - 2) * sd * math.sqrt(1 / x.size + 1 / y.size)
    needed = None
    if margin > 0:
        n = 2
        for _ in range(50):  # fixed point: n = 2 (m(df) sd / margin)^2 with df = 2n - 2
            wanted = max(2, math.ceil(2 * (multiplier(2 * n - 2) * sd / margin) ** 2))
            if wanted == n:
                break
            n = wanted
        needed = n
    return detectable, needed


def _outcome(
    p_value: float, p_equivalence: float, diff: float, alpha: float, higher_is_better: bool
) -> str:
    if math.isfinite(p_value) and p_value < alpha and diff != 0:
        return A_BETTER if (diff > 0) == higher_is_better else B_BETTER
    if math.isfinite(p_equivalence) and p_equivalence < alpha:
        return EQUIVALENT
    return INCONCLUSIVE


def decide(
    a: Sequence[float],
    b: Sequence[float],
    *,
    higher_is_better: bool,
    margin: float,
    alpha: float = ALPHA,
) -> Decision:
    """Decide between arms ``a`` and ``b`` from their per-seed values (module docstring).

    Non-finite values (a diverged run's nan or inf) are dropped and counted in the note: a
    caller that wants divergence to count against an arm must score it as a finite value.
    Fewer than 2 finite values in an arm give "inconclusive" (nothing can be tested).

    Raises:
        ValueError: ``margin`` negative or not finite, ``alpha`` not in (0, 1).
    """
    return _decide(a, b, higher_is_better, margin, alpha, permutation=False)


def decide_by_permutation(
    a: Sequence[float],
    b: Sequence[float],
    *,
    higher_is_better: bool,
    margin: float,
    alpha: float = ALPHA,
) -> Decision:
    """:func:`decide` with the permutation test (and permutation TOST) whatever the data."""
    return _decide(a, b, higher_is_better, margin, alpha, permutation=True)


def _decide(
    a: Sequence[float],
    b: Sequence[float],
    higher_is_better: bool,
    margin: float,
    alpha: float,
    permutation: bool,
) -> Decision:
    if not (math.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be a finite number >= 0, got {margin!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    x, y = _clean(a), _clean(b)
    dropped = (len(a) - x.size, len(b) - y.size)
    notes = [
        f"{k} non-finite {name} value{'s' if k > 1 else ''} dropped"
        for k, name in zip(dropped, ("a", "b"), strict=True)
        if k
    ]
    nan = math.nan
    diff = float(x.mean() - y.mean()) if x.size and y.size else nan
    if x.size < 2 or y.size < 2:
        notes.append(f"too few values to test (n = {x.size}/{y.size})")
        return Decision(
            INCONCLUSIVE, nan, diff, (nan, nan), nan, margin, alpha, "", nan, nan, None,
            int(x.size), int(y.size), higher_is_better, "; ".join(notes),
        )  # fmt: skip
    both_constant = np.ptp(x) == 0 and np.ptp(y) == 0
    if permutation or both_constant or not (_normal_enough(x) and _normal_enough(y)):
        test = "permutation"
        if not permutation:
            notes.append("both arms constant" if both_constant else "an arm fails Shapiro–Wilk")
        p_value, diff_ci, p_equivalence = _permutation(x, y, margin, alpha)
    else:
        test = "welch"
        p_value, diff_ci, p_equivalence = _welch(x, y, margin, alpha)
    detectable, needed = _power_figures(x, y, margin, alpha)
    return Decision(
        _outcome(p_value, p_equivalence, diff, alpha, higher_is_better),
        p_value,
        diff,
        diff_ci,
        hedges_g(x, y),
        margin,
        alpha,
        test,
        p_equivalence,
        detectable,
        needed,
        int(x.size),
        int(y.size),
        higher_is_better,
        "; ".join(notes),
    )


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input order.

    Non-finite entries (an undecidable contrast) stay nan and do not count in the family.
    """
    values = np.asarray(list(p_values), dtype=float)
    adjusted = np.full(values.shape, np.nan)
    finite = np.isfinite(values)
    if finite.any():
        from statsmodels.stats.multitest import multipletests

        adjusted[finite] = multipletests(values[finite], method="holm")[1]
    return [float(v) for v in adjusted]


def adjust(decisions: Sequence[Decision]) -> list[Decision]:
    """Re-decide a family with Holm-adjusted p-values (both the difference and the TOST ones).

    Used wherever several contrasts support one verdict, so that looking at many of them
    does not make a chance "better" or "equivalent" likely. ``diff_ci`` keeps its
    unadjusted level; the outcome follows the adjusted p-values.
    """
    if len(decisions) < 2:
        return list(decisions)
    p_diff = holm([d.p_value for d in decisions])
    p_equiv = holm([d.p_equivalence for d in decisions])
    return [
        replace(
            d,
            p_value=p,
            p_equivalence=q,
            outcome=_outcome(p, q, d.diff, d.alpha, d.higher_is_better),
        )
        for d, p, q in zip(decisions, p_diff, p_equiv, strict=True)
    ]


@dataclass(frozen=True)
class GroupVerdict:
    """One comparison's verdict: the best model by mean against the runner-up.

    ``decision`` is None when fewer than two models have finished runs; ``family`` is the
    number of comparisons its p-values were Holm-adjusted over (a suite's table).
    """

    best: str | None
    runner_up: str | None
    decision: Decision | None
    family: int = 1

    @property
    def winner(self) -> str | None:
        """The best model when it is significantly better, else None."""
        if self.decision is not None and self.decision.outcome == A_BETTER:
            return self.best
        return None

    @property
    def p_value(self) -> float | None:
        """The (adjusted) p-value of best vs runner-up, None when untested."""
        if self.decision is None or not math.isfinite(self.decision.p_value):
            return None
        return self.decision.p_value

    @property
    def test(self) -> str:
        """The test the decision used: ``welch``, ``permutation`` or ``""`` (none)."""
        return self.decision.test if self.decision is not None else ""

    @property
    def effect_size(self) -> float | None:
        """Hedges' g signed so that positive means the best model is better."""
        if self.decision is None or not math.isfinite(self.decision.effect):
            return None
        g = self.decision.effect
        return g if self.decision.higher_is_better else -g

    @property
    def text(self) -> str:
        """``gru better (gru − lstm = …; margin ±…; welch p = …)``, with the Holm family."""
        if self.decision is None:
            return "no comparison (fewer than two models with finished runs)"
        text = self.decision.describe(self.best or "a", self.runner_up or "b")
        if self.family > 1:
            text += f"; p Holm-adjusted over the {self.family} comparisons of this table"
        return text


def compare_groups(
    groups: Mapping[str, Sequence[float]],
    higher_is_better: bool,
    margin: Margin,
    method: str = "welch",
    alpha: float = ALPHA,
) -> GroupVerdict:
    """Decide the model with the best mean against the runner-up (:func:`decide`).

    ``margin`` is resolved on the two models' values (a relative margin scales with them).
    ``method``: ``welch`` (Welch, or permutation where its assumptions fail) or
    ``bootstrap`` (always the permutation test).
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
        return GroupVerdict(ranked[0] if ranked else None, None, None)
    best, runner_up = ranked[0], ranked[1]
    rule = decide if method == "welch" else decide_by_permutation
    a, b = groups[best], groups[runner_up]
    width = margin.resolve(a, b)
    decision = rule(a, b, higher_is_better=higher_is_better, margin=width, alpha=alpha)
    return GroupVerdict(best, runner_up, decision)


def adjust_table(verdicts: Sequence[GroupVerdict]) -> list[GroupVerdict]:
    """Holm-adjust the verdicts of one table (a suite) together (:func:`adjust`)."""
    tested = [i for i, v in enumerate(verdicts) if v.decision is not None and v.p_value is not None]
    out = list(verdicts)
    adjusted = adjust([out[i].decision for i in tested])  # type: ignore[misc]
    for i, decision in zip(tested, adjusted, strict=True):
        out[i] = replace(out[i], decision=decision, family=len(tested))
    return out
