"""Aggregates across tasks on hand-computed inputs."""

import math

import numpy as np
import pandas as pd
import pytest

from rnnlab.compare.aggregate import (
    iqm,
    iqm_ci,
    normalise,
    overall_answer,
    performance_profile,
    probability_of_improvement,
)


def runs(rows):
    return pd.DataFrame(rows, columns=["task", "model", "seed", "value"])


def test_normalise_maps_chance_to_0_and_best_to_1_in_either_direction():
    table = runs(
        [("acc", "a", 0, 0.5), ("acc", "a", 1, 0.75), ("acc", "b", 0, 1.0),
         ("mse", "a", 0, 1.0), ("mse", "a", 1, 0.5), ("mse", "b", 0, 0.0),
         ("flat", "a", 0, 3.0), ("flat", "b", 0, 3.0), ("acc", "b", 1, math.nan)]
    )  # fmt: skip
    scores = normalise(table, {"acc": True, "mse": False, "flat": True}, {"acc": 0.5})
    by = {(r.task, r.model, r.seed): r.score for r in scores.itertuples()}
    assert by[("acc", "a", 0)] == 0 and by[("acc", "a", 1)] == 0.5 and by[("acc", "b", 0)] == 1
    # no chance level for mse: 0 is the worst run (1.0), 1 the best (0.0)
    assert by[("mse", "a", 0)] == 0 and by[("mse", "a", 1)] == 0.5 and by[("mse", "b", 0)] == 1
    assert "flat" not in set(scores["task"]) and len(scores) == 6


def test_iqm_is_the_mean_of_the_middle_half():
    assert iqm([1, 2, 3, 4, 5, 6, 7, 8]) == pytest.approx(4.5)
    assert iqm([0, 0, 0, 100]) == pytest.approx(0.0)  # one outlier run does not move it
    assert math.isnan(iqm([]))


def scores_table(rows):
    return pd.DataFrame(rows, columns=["task", "model", "seed", "score"])


def test_probability_of_improvement_by_hand():
    table = scores_table(
        [("t1", "a", 0, 1.0), ("t1", "a", 1, 2.0), ("t1", "b", 0, 0.0), ("t1", "b", 1, 1.5),
         ("t2", "a", 0, 0.0), ("t2", "b", 0, 0.0), ("t3", "a", 0, 1.0)]
    )  # fmt: skip
    p = probability_of_improvement(table, "a", "b", resamples=200)
    # t1: 3 of 4 pairs; t2: a tie (1/2); t3 has no b and does not count
    assert p.value == pytest.approx((3 / 4 + 1 / 2) / 2)
    assert p.low <= p.value <= p.high
    reverse = probability_of_improvement(table, "b", "a", resamples=200)
    assert reverse.value == pytest.approx(1 - p.value)


def test_dominance_gives_a_degenerate_interval_and_a_clear_overall_answer():
    rng = np.random.default_rng(0)
    rows = []
    for t in range(4):
        for s in range(3):
            rows += [(f"t{t}", "lstm", s, 0.8 + rng.uniform(0, 0.1)),
                     (f"t{t}", "gru", s, 0.2 + rng.uniform(0, 0.1))]  # fmt: skip
    table = scores_table(rows)
    p = probability_of_improvement(table, "lstm", "gru", resamples=200)
    assert (p.value, p.low, p.high) == (1.0, 1.0, 1.0)
    answer = overall_answer(table, "lstm", "gru")
    assert "over 4 tasks" in answer and "lstm is better overall" in answer
    ci = iqm_ci(table, "lstm", resamples=200)
    assert 0.8 <= ci.low <= ci.value <= ci.high <= 0.9


def test_overlapping_models_are_not_settled():
    rng = np.random.default_rng(1)
    rows = [(f"t{t}", m, s, rng.normal()) for t in range(3) for m in ("a", "b") for s in range(3)]
    assert "does not settle" in overall_answer(scores_table(rows), "a", "b")


def test_performance_profile_fractions():
    table = scores_table([("t1", "a", 0, 0.0), ("t1", "a", 1, 0.5), ("t2", "a", 0, 1.0)])
    profile = performance_profile(table, "a", taus=np.array([0.0, 0.5, 1.0]), resamples=100)
    assert profile.fraction == pytest.approx([2 / 3, 1 / 3, 0.0])
    assert np.all(profile.low <= profile.fraction) and np.all(profile.fraction <= profile.high)
