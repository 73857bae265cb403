import math

import numpy as np
import pytest

from rnnlab.compare import stats
from rnnlab.compare.margins import Margin


def test_mean_ci_matches_hand_computed_t_interval():
    # mean 3, sample std sqrt(2.5), t_{0.975, 4} = 2.776445
    summary = stats.mean_ci([1, 2, 3, 4, 5])
    half = 2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5)
    assert summary.mean == pytest.approx(3.0)
    assert summary.low == pytest.approx(3.0 - half)
    assert summary.high == pytest.approx(3.0 + half)
    assert summary.n == 5


def test_mean_ci_drops_non_finite_and_handles_single_value():
    assert stats.mean_ci([2.0, float("nan")]).n == 1
    assert stats.mean_ci([2.0]).half_width == 0.0
    assert math.isnan(stats.mean_ci([]).mean)


def test_welch_p_value_known_case():
    # By hand: variances of the means 0.5 and 2.0, t = -3 / sqrt(2.5) = -1.8974,
    # Welch-Satterthwaite df = 2.5^2 / (0.5^2/4 + 2^2/4) = 5.8824, p = 2 * T_df(-|t|).
    from scipy.stats import t as student_t

    expected = 2 * student_t.sf(3 / math.sqrt(2.5), df=6.25 / (0.25 / 4 + 4 / 4))
    p = stats.decide([1, 2, 3, 4, 5], [2, 4, 6, 8, 10], higher_is_better=True, margin=0.1).p_value
    assert p == pytest.approx(expected) and p == pytest.approx(0.10753, abs=1e-5)


def test_effect_sizes_known_case():
    a, b = [2, 4, 6, 8], [1, 3, 5, 7]
    # means differ by 1, pooled sd = sqrt(20/3)
    d = 1 / math.sqrt(20 / 3)
    assert stats.cohens_d(a, b) == pytest.approx(d)
    assert stats.hedges_g(a, b) == pytest.approx(d * (1 - 3 / (4 * 8 - 9)))


def test_bootstrap_ci_contains_mean_and_is_reproducible():
    values = np.random.default_rng(1).normal(10, 1, size=20)
    first = stats.bootstrap_ci(values, resamples=2000)
    again = stats.bootstrap_ci(values, resamples=2000)
    assert first.low < first.mean < first.high
    assert (first.low, first.high) == (again.low, again.high)


ABSOLUTE = Margin(0.01, relative=False)


def test_group_verdict_names_winner_only_when_significant():
    clear = stats.compare_groups(
        {"lstm": [0.90, 0.91, 0.92], "gru": [0.50, 0.52, 0.51]}, True, ABSOLUTE
    )
    assert clear.winner == "lstm" and clear.p_value < 0.05 and clear.effect_size > 0
    assert clear.text.startswith("lstm better (lstm − gru = +0.4")
    assert "margin ±0.01" in clear.text
    noisy = stats.compare_groups({"lstm": [0.1, 0.9, 0.5], "gru": [0.4, 0.6, 0.45]}, True, ABSOLUTE)
    assert noisy.winner is None and noisy.decision.outcome == "inconclusive"
    assert noisy.best == "lstm" and noisy.runner_up == "gru"
    assert "detectable difference" in noisy.text


def test_group_verdict_respects_lower_is_better_and_bootstrap():
    groups = {"lstm": [0.30, 0.31, 0.29, 0.30, 0.3], "gru": [0.10, 0.11, 0.09, 0.10, 0.1]}
    verdict = stats.compare_groups(groups, False, ABSOLUTE, method="bootstrap")
    assert verdict.winner == "gru" and verdict.effect_size > 0
    assert verdict.decision.test == "permutation" == verdict.test


def test_group_verdict_with_single_seed_makes_no_claim():
    verdict = stats.compare_groups({"lstm": [0.9], "gru": [0.1]}, True, ABSOLUTE)
    assert verdict.winner is None and verdict.p_value is None
    assert stats.compare_groups({"lstm": [0.9]}, True, ABSOLUTE).decision is None


def test_table_is_holm_adjusted_across_groups():
    lone = stats.compare_groups(
        {"lstm": [1.0, 1.2, 1.4, 1.1, 1.3], "gru": [1.25, 1.45, 1.65, 1.35, 1.55]},
        False,
        Margin(0.001, relative=False),
    )
    assert lone.winner == "lstm" and 0.01 < lone.p_value < 0.05
    null = stats.compare_groups({"lstm": [1.0, 1.1, 1.2], "gru": [1.05, 1.15, 1.0]}, False,
                                Margin(0.001, relative=False))  # fmt: skip
    table = stats.adjust_table([lone, null, null])
    assert table[0].winner is None and table[0].family == 3
    assert table[0].p_value == pytest.approx(3 * lone.p_value)
    assert "Holm-adjusted over the 3 comparisons" in table[0].text
