"""Group-sequential adaptive seeds: spending functions, look levels, error rate by simulation."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from rnnlab.compare.adaptive import SequentialDesign, sequential_decide, spent
from rnnlab.errors import UserInputError


def test_spending_functions_known_values():
    # O'Brien-Fleming type at t = 0.25: 2 - 2 Phi(1.959964 / 0.5) = 2 - 2 Phi(3.919928)
    assert spent(0.25) == pytest.approx(2 * sps.norm.sf(1.959964 / 0.5), rel=1e-5)
    assert spent(0.25) == pytest.approx(8.86e-5, rel=1e-2)
    assert spent(1.0) == pytest.approx(0.05)
    assert spent(0.0) == 0.0
    # Pocock type: alpha ln(1 + (e - 1) t)
    assert spent(0.5, spending="pocock") == pytest.approx(0.05 * math.log(1 + (math.e - 1) / 2))
    assert spent(1.0, spending="pocock") == pytest.approx(0.05)
    with pytest.raises(ValueError, match="spending"):
        spent(0.5, spending="bonferroni")


def test_look_levels_sum_to_alpha_and_obf_keeps_most_for_the_end():
    design = SequentialDesign.up_to(10)
    assert design.looks == (3, 5, 7, 10)
    assert SequentialDesign.up_to(4).looks == (3, 4) and SequentialDesign.up_to(3).looks == (3,)
    levels = [design.level(k) for k in range(len(design.looks))]
    assert sum(levels) == pytest.approx(0.05)
    assert levels[0] < 1e-3 < levels[-1]
    pocock = SequentialDesign((4, 8), spending="pocock")
    assert pocock.level(0) == pytest.approx(0.05 * math.log(1 + (math.e - 1) / 2))
    with pytest.raises(UserInputError, match="--max-seeds"):
        SequentialDesign.up_to(2)
    with pytest.raises(ValueError, match="increasing"):
        SequentialDesign((5, 3))


def _simulate(design, shift, sims, seed=0):
    rng = np.random.default_rng(seed)
    outcomes, seeds = [], []
    for _ in range(sims):
        a = rng.normal(shift, 1.0, design.looks[-1])
        b = rng.normal(0.0, 1.0, design.looks[-1])
        decision, n = sequential_decide(
            lambda n, a=a, b=b: (a[:n], b[:n]), design, higher_is_better=True, margin=0.5
        )
        outcomes.append(decision.outcome)
        seeds.append(n)
    return outcomes, seeds


class EveryLookAtAlpha(SequentialDesign):
    """The naive design: every look at the full alpha (what the spending prevents)."""

    def level(self, look: int) -> float:
        return self.alpha


def test_null_comparisons_keep_false_better_rate_below_alpha():
    # Identical arms, looked at after 4, 7 and 10 seeds: a false "better" (either way) at
    # any look must stay at or below alpha overall. With 200 simulations the observed rate
    # has a Monte Carlo error of about ±0.015, so the test asks that it is not significantly
    # above alpha (one-sided binomial test), and that three looks at the full 0.05 each (no
    # spending) are, on the same data: the test fails if the spending is dropped.
    sims = 200
    outcomes, seeds = _simulate(SequentialDesign((4, 7, 10)), 0.0, sims)
    false_better = sum(o in ("a better", "b better") for o in outcomes)
    assert sps.binomtest(false_better, sims, 0.05, alternative="greater").pvalue > 0.05
    assert min(seeds) < 10 and max(seeds) == 10  # some stopped early (equivalent), some not
    naive, _ = _simulate(EveryLookAtAlpha((4, 7, 10)), 0.0, sims)
    naive_better = sum(o in ("a better", "b better") for o in naive)
    assert sps.binomtest(naive_better, sims, 0.05, alternative="greater").pvalue < 0.01


def test_a_real_difference_is_found_and_stops_early():
    design = SequentialDesign((4, 7, 10))
    outcomes, seeds = _simulate(design, 3.0, 20, seed=1)
    assert outcomes.count("a better") >= 19
    assert np.mean(seeds) < 10


def test_run_adaptive_adds_seeds_only_where_undecided():
    from types import SimpleNamespace

    from rnnlab.compare.adaptive import run_adaptive
    from rnnlab.compare.plan import Comparison

    rng = np.random.default_rng(0)
    # adding (MSE, lower is better): gru far better with tiny noise; copy: pure noise.
    pools = {
        "adding": {"lstm": 0.5 + rng.normal(0, 0.001, 9), "gru": 0.1 + rng.normal(0, 0.001, 9)},
        "copy": {"lstm": rng.normal(0.6, 0.1, 9), "gru": rng.normal(0.6, 0.1, 9)},
    }
    calls = []

    def run(todo):
        calls.append([(c.task, c.seeds) for c in todo])
        return [SimpleNamespace(comparison=c) for c in todo]

    def values(plan):
        n = plan.comparison.seeds
        return {m: list(v[:n]) for m, v in pools[plan.comparison.task].items()}

    comparisons = [Comparison("adding", ["lstm", "gru"]), Comparison("copy", ["lstm", "gru"])]
    design = SequentialDesign.up_to(9)  # looks at 3, 5, 7, 9
    assert design.looks == (3, 5, 7, 9)
    outcomes = run_adaptive(comparisons, design, run, values)
    assert calls[0] == [("adding", 3), ("copy", 3)]
    assert all(task == "copy" for look in calls[1:] for task, _ in look)
    assert calls[-1] == [("copy", 9)]
    adding, copy = outcomes
    assert adding.seeds == 3 and adding.verdict.winner == "gru"
    assert adding.level == pytest.approx(design.level(0))
    assert copy.seeds == 9 and copy.look == 3
    assert copy.verdict.decision.alpha == pytest.approx(design.level(3))
    assert comparisons[0].seeds == 3  # the caller's specs are not modified
