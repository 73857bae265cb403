"""rnnlab.compare.stats.decide / holm / adjust and the margins, on known inputs."""

import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import ttost_ind

from rnnlab.compare.margins import default_margin, parse_margin
from rnnlab.compare.stats import OUTCOMES, adjust, decide, holm
from rnnlab.errors import UserInputError

A = [0.90, 0.91, 0.92, 0.93]
B = [0.80, 0.81, 0.79, 0.80]


def test_a_better_matches_scipy_welch_and_hand_computed_figures():
    d = decide(A, B, higher_is_better=True, margin=0.01)
    assert d.outcome == "a better"
    assert d.test == "welch"
    reference = sps.ttest_ind(A, B, equal_var=False)
    assert d.p_value == pytest.approx(reference.pvalue, rel=1e-12)
    assert d.diff == pytest.approx(0.915 - 0.80)
    low, high = reference.confidence_interval(0.95)
    assert d.diff_ci == pytest.approx((low, high))
    # Hedges' g by hand: pooled sd of A (var 1/6e-3... ) and B
    va, vb = np.var(A, ddof=1), np.var(B, ddof=1)
    g = (0.915 - 0.80) / math.sqrt((3 * va + 3 * vb) / 6) * (1 - 3 / (4 * 8 - 9))
    assert d.effect == pytest.approx(g)
    assert d.margin == 0.01 and d.alpha == 0.05


def test_direction_follows_higher_is_better():
    assert decide(A, B, higher_is_better=False, margin=0.01).outcome == "b better"
    assert decide(B, A, higher_is_better=True, margin=0.01).outcome == "b better"
    assert decide(B, A, higher_is_better=False, margin=0.01).outcome == "a better"


def test_equivalent_uses_tost_and_matches_statsmodels():
    rng = np.random.default_rng(1)
    a, b = 0.5 + rng.normal(0, 0.001, 8), 0.5 + rng.normal(0, 0.001, 8)
    d = decide(a, b, higher_is_better=True, margin=0.01)
    assert d.outcome == "equivalent"
    assert d.p_value >= 0.05
    reference = ttost_ind(a, b, -0.01, 0.01, usevar="unequal")[0]
    assert d.p_equivalence == pytest.approx(reference, rel=1e-6)
    wide = decide(a, b, higher_is_better=True, margin=0.0015)  # a p near 0.05, not ~0
    assert wide.p_equivalence == pytest.approx(
        ttost_ind(a, b, -0.0015, 0.0015, usevar="unequal")[0], rel=1e-6
    )
    # The same data with a margin smaller than its noise is not equivalent: no difference
    # found is not evidence of none.
    assert decide(a, b, higher_is_better=True, margin=1e-5).outcome == "inconclusive"


def test_inconclusive_reports_detectable_difference_and_seeds_needed():
    a, b = [0.5, 0.6, 0.7], [0.55, 0.65, 0.4]
    d = decide(a, b, higher_is_better=True, margin=0.05)
    assert d.outcome == "inconclusive"
    # By hand: detectable = (t_{0.975, 4} + t_{0.8, 4}) * pooled sd * sqrt(2/3); the
    # noncentral-t answer of statsmodels is within 5 % of it.
    from statsmodels.stats.power import TTestIndPower

    sd = math.sqrt((np.var(a, ddof=1) + np.var(b, ddof=1)) / 2)
    hand = (sps.t.ppf(0.975, 4) + sps.t.ppf(0.8, 4)) * sd * math.sqrt(2 / 3)
    assert d.detectable == pytest.approx(hand, rel=1e-9)
    exact = TTestIndPower().solve_power(effect_size=None, nobs1=3, ratio=1, alpha=0.05, power=0.8)
    assert d.detectable == pytest.approx(exact * sd, rel=0.05)
    # seeds needed n solves n = 2 ((t_{0.975, 2n-2} + t_{0.8, 2n-2}) sd / margin)^2
    n = d.seeds_needed
    m = sps.t.ppf(0.975, 2 * n - 2) + sps.t.ppf(0.8, 2 * n - 2)
    assert n == math.ceil(2 * (m * sd / 0.05) ** 2)
    exact_n = TTestIndPower().solve_power(effect_size=0.05 / sd, alpha=0.05, power=0.8)
    assert n == pytest.approx(exact_n, rel=0.05)
    assert "detectable difference" in d.describe() and "seeds per arm" in d.describe()


def test_single_seed_and_empty_arms_are_inconclusive():
    for a, b in (([1.0], [2.0, 3.0]), ([], [1.0, 2.0]), ([1.0], [1.0])):
        d = decide(a, b, higher_is_better=True, margin=0.1)
        assert d.outcome == "inconclusive"
        assert math.isnan(d.p_value) and d.test == ""
        assert "too few values" in d.note


def test_two_seeds_per_arm_use_welch():
    d = decide([1.0, 1.1], [2.0, 2.1], higher_is_better=False, margin=0.01)
    assert d.test == "welch"
    assert d.p_value == pytest.approx(sps.ttest_ind([1.0, 1.1], [2.0, 2.1], equal_var=False).pvalue)
    assert d.outcome == "a better"


def test_zero_variance_uses_exact_permutation():
    # Constant arms: t is undefined; the exact permutation p of 6 vs 6 distinct groups is
    # 2 / C(12, 6) = 2 / 924.
    d = decide([1.0] * 6, [2.0] * 6, higher_is_better=False, margin=0.01)
    assert d.test == "permutation" and d.outcome == "a better"
    assert d.p_value == pytest.approx(2 / 924)
    assert d.effect == -math.inf
    # 3 vs 3 cannot reach p < 0.05 (2 / 20): inconclusive, whatever the gap.
    d3 = decide([1.0] * 3, [2.0] * 3, higher_is_better=False, margin=0.01)
    assert d3.outcome == "inconclusive" and d3.p_value == pytest.approx(0.1)
    # Identical constant arms: equivalent once the permutation TOST can reach alpha
    # (1 / C(8, 4) = 1/70 with 4 seeds; 1/20 = 0.05 is not below alpha with 3).
    assert decide([0.5] * 4, [0.5] * 4, higher_is_better=True, margin=0.01).outcome == "equivalent"
    assert decide([0.5] * 3, [0.5] * 3, higher_is_better=True, margin=0.01).outcome == (
        "inconclusive"
    )


def test_non_normal_arm_switches_to_permutation_and_handles_ties():
    a, b = [1.0, 1.0, 1.0, 1.0, 1.0, 9.0], [2.0, 2.0, 2.0, 2.0, 2.0, 2.1]
    assert sps.shapiro(a).pvalue < 0.05
    d = decide(a, b, higher_is_better=False, margin=0.01)
    assert d.test == "permutation" and "Shapiro" in d.note
    reference = sps.permutation_test(
        (np.array(a), np.array(b)),
        lambda u, v: np.mean(u) - np.mean(v),
        permutation_type="independent",
        n_resamples=np.inf,
    ).pvalue
    assert d.p_value == pytest.approx(reference)
    assert d.outcome in OUTCOMES


def test_non_finite_values_are_dropped_and_counted():
    d = decide([1.0, math.nan, 1.1, 1.2], [2.0, 2.1, math.inf, 2.2], higher_is_better=False,
               margin=0.01)  # fmt: skip
    assert (d.n_a, d.n_b) == (3, 3)
    assert "1 non-finite a value dropped" in d.note and "1 non-finite b value dropped" in d.note
    assert d.diff == pytest.approx(1.1 - 2.1)


def test_bad_margin_or_alpha_raise():
    with pytest.raises(ValueError, match="margin"):
        decide(A, B, higher_is_better=True, margin=-0.1)
    with pytest.raises(ValueError, match="margin"):
        decide(A, B, higher_is_better=True, margin=math.nan)
    with pytest.raises(ValueError, match="alpha"):
        decide(A, B, higher_is_better=True, margin=0.1, alpha=1.5)


def test_holm_matches_statsmodels_in_input_order_and_keeps_nan():
    p = [0.01, 0.04, 0.03, 0.005]
    assert holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]))
    # by hand: sorted 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1 -> max(0.06, 0.04)
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = holm([0.01, math.nan, 0.04])
    assert adjusted[0] == pytest.approx(0.02) and math.isnan(adjusted[1])
    assert adjusted[2] == pytest.approx(0.04)
    assert holm([]) == []


def test_adjust_turns_a_lone_significant_contrast_into_inconclusive():
    # p ~ 0.03 alone is "a better"; in a family of three with two null contrasts it is not.
    a, b = [1.0, 1.2, 1.4, 1.1, 1.3], [1.25, 1.45, 1.65, 1.35, 1.55]
    lone = decide(a, b, higher_is_better=False, margin=0.001)
    assert lone.outcome == "a better" and 0.01 < lone.p_value < 0.05
    null = decide([1.0, 1.1, 1.2], [1.05, 1.15, 1.0], higher_is_better=False, margin=0.001)
    family = adjust([lone, null, null])
    assert family[0].p_value == pytest.approx(min(1.0, 3 * lone.p_value))
    assert family[0].outcome == "inconclusive"
    assert adjust([lone]) == [lone]


def test_default_margins_and_override():
    acc = default_margin("test_accuracy")
    assert acc.resolve([0.9], [0.8]) == 0.01 and acc.text == "±0.01"
    loss = default_margin("mse")
    assert loss.resolve([1.0, 1.0], [3.0]) == pytest.approx(0.05 * 2.0)
    assert loss.text == "±5 %"
    assert default_margin("explosion_score").resolve([0], [0]) == 0.5
    assert default_margin("params").resolve([100], [100]) == pytest.approx(3.0)
    assert parse_margin("0.02").resolve([5], [5]) == 0.02
    assert parse_margin("2%").resolve([10], [30]) == pytest.approx(0.4)
    assert parse_margin(None) is None
    with pytest.raises(UserInputError, match="--margin"):
        parse_margin("-1")
