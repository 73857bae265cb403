"""Claim verdicts from synthetic result tables: other numbers, other verdicts."""

import math

import pandas as pd
import pytest

from rnnlab.diagnose.claims import CLAIMS, judge
from rnnlab.diagnose.verdicts import (
    DEPENDS,
    EQUIVALENT,
    INCONCLUSIVE,
    REFUTED,
    SUPPORTED,
    combine,
    contrast,
    read_contrast,
)

HIGH = [0.90, 0.92, 0.91]
LOW = [0.50, 0.53, 0.51]
NOISY_A = [0.70, 0.80, 0.60]
NOISY_B = [0.72, 0.62, 0.79]
# Within 0.1 % of each other: equivalent within the default 5 % relative margin.
SAME_A = [0.900, 0.901, 0.899]
SAME_B = [0.9005, 0.8995, 0.9000]


def make_table(claim, splits, higher_is_better=True, metric=None):
    """``splits`` maps split -> arm -> values; a string value is a run status without metric."""
    rows = []
    for split, arms in splits.items():
        for arm, values in arms.items():
            for seed, value in enumerate(values):
                failed = isinstance(value, str)
                rows.append(
                    {
                        "claim": claim,
                        "split": split,
                        "arm": arm,
                        "seed": seed,
                        "status": value if failed else "done",
                        "value": math.nan if failed else value,
                        "higher_is_better": higher_is_better,
                        **({"metric": metric} if metric else {}),
                    }
                )
    return pd.DataFrame(rows)


def flip(values, higher_is_better):
    """Values that are 'good' in the metric's direction."""
    return values if higher_is_better else [1 - v for v in values]


# claim, favoured arm, other arm, higher_is_better of its metric
PAIRWISE = [
    (3, "lstm", "gru", True),
    (4, "gru", "lstm", False),
    (5, "gru", "lstm", False),
    (6, "bilstm", "lstm", True),
    (8, "forget_bias=1", "forget_bias=0", True),
]


@pytest.mark.parametrize(("claim", "favoured", "other", "hib"), PAIRWISE)
def test_pairwise_claims_give_every_verdict_kind(claim, favoured, other, hib):
    good, bad = flip(HIGH, hib), flip(LOW, hib)
    verdict = CLAIMS[claim].verdict

    def run(splits):
        return verdict(make_table(claim, splits, hib))

    supported = run(
        {"task-a": {favoured: good, other: bad}, "task-b": {favoured: good, other: bad}}
    )
    assert supported.kind == SUPPORTED and "task-a / task-b" in supported.text

    refuted = run({"task-a": {favoured: bad, other: good}})
    assert refuted.kind == REFUTED

    noisy = run({"task-a": {favoured: NOISY_A, other: NOISY_B}})
    assert noisy.kind == INCONCLUSIVE  # no difference found is not "no difference"
    assert "detectable difference" in noisy.text

    same = run({"task-a": {favoured: SAME_A, other: SAME_B}})
    assert same.kind == EQUIVALENT and "equivalent on task-a (within ±" in same.text

    depends = run({"task-a": {favoured: good, other: bad}, "task-b": {favoured: bad, other: good}})
    assert depends.kind == DEPENDS
    assert "supported on task-a" in depends.text and "refuted on task-b" in depends.text

    diverged = run({"task-a": {favoured: [good[0], "diverged", "diverged"], other: bad}})
    assert diverged.kind == INCONCLUSIVE
    assert f"2 of 3 {favoured} runs diverged" in diverged.text


def test_claim1_needs_both_gated_cells_to_beat_the_rnn():
    verdict = CLAIMS[1].verdict
    both = make_table(1, {"horizon copy": {"lstm": HIGH, "gru": HIGH, "rnn": LOW}})
    assert verdict(both).kind == SUPPORTED
    one = make_table(1, {"horizon copy": {"lstm": HIGH, "gru": NOISY_A, "rnn": NOISY_B}})
    assert verdict(one).kind == INCONCLUSIVE
    equal = make_table(1, {"horizon copy": {"lstm": HIGH, "gru": SAME_A, "rnn": SAME_B}})
    assert verdict(equal).kind == EQUIVALENT
    rnn_best = make_table(1, {"horizon copy": {"lstm": HIGH, "gru": LOW, "rnn": HIGH}})
    assert verdict(rnn_best).kind == REFUTED
    split = make_table(
        1,
        {
            "decay at init": {"lstm": HIGH, "gru": HIGH, "rnn": LOW},
            "horizon copy": {"lstm": HIGH, "gru": LOW, "rnn": HIGH},
            "horizon adding": {"lstm": NOISY_A, "gru": NOISY_B, "rnn": NOISY_A},
        },
    )
    result = verdict(split)
    assert result.kind == DEPENDS
    assert "supported on decay at init" in result.text
    assert "refuted on horizon copy" in result.text
    assert "inconclusive on horizon adding" in result.text
    failed = make_table(1, {"horizon copy": {"lstm": ["failed"] * 3, "gru": HIGH, "rnn": LOW}})
    assert verdict(failed).kind == INCONCLUSIVE
    assert "3 of 3 lstm runs failed" in verdict(failed).text


def test_claim2_reads_divergences_as_evidence():
    verdict = CLAIMS[2].verdict
    # score = explosion events (+1 when diverged); a diverged run keeps its score
    lstm_explodes = make_table(2, {"adding lr=0.03": {"lstm": [5, 7, 6], "gru": [0, 0, 1]}}, False)
    assert verdict(lstm_explodes).kind == SUPPORTED
    gru_explodes = make_table(2, {"adding lr=0.03": {"lstm": [0, 0, 1], "gru": [5, 7, 6]}}, False)
    assert verdict(gru_explodes).kind == REFUTED
    both_rarely = make_table(2, {"adding lr=0.03": {"lstm": [1, 0, 2], "gru": [2, 1, 0]}}, False)
    result = verdict(both_rarely)
    assert result.kind == REFUTED and "at least as often" in result.splits[0].note
    # No explosions anywhere: equivalent within 0.5 events once 4 seeds per arm let the
    # permutation TOST reach p < 0.05 (1/70); with 3 (1/20) it stays inconclusive.
    neither = make_table(2, {"adding lr=0.03": {"lstm": [0] * 4, "gru": [0] * 4}}, False,
                         metric="explosion_score")  # fmt: skip
    assert verdict(neither).kind == EQUIVALENT and "±0.5" in verdict(neither).text
    few = make_table(2, {"adding lr=0.03": {"lstm": [0] * 3, "gru": [0] * 3}}, False,
                     metric="explosion_score")  # fmt: skip
    assert verdict(few).kind == INCONCLUSIVE
    diverged = make_table(2, {"adding lr=0.03": {"lstm": [9, 8, 9], "gru": [0, 1, 0]}}, False)
    diverged.loc[diverged["arm"] == "lstm", "status"] = "diverged"
    assert verdict(diverged).kind == SUPPORTED  # diverged LSTM runs count, not dropped
    mixed = make_table(
        2,
        {
            "adding lr=0.01": {"lstm": [5, 7, 6], "gru": [0, 0, 1]},
            "copy lr=0.01": {"lstm": [0, 0, 1], "gru": [5, 7, 6]},
        },
        False,
    )
    assert verdict(mixed).kind == DEPENDS
    failed = make_table(2, {"adding lr=0.03": {"lstm": ["failed"] * 3, "gru": [0, 0, 0]}}, False)
    assert verdict(failed).kind == INCONCLUSIVE


def test_claim7_favours_gru_on_fixed_and_lstm_on_variable_length():
    verdict = CLAIMS[7].verdict
    as_claimed = {
        "fixed-length mnist-rows": {"gru": HIGH, "lstm": LOW},
        "variable-length japanese-vowels": {"lstm": HIGH, "gru": LOW},
    }
    assert verdict(make_table(7, as_claimed)).kind == SUPPORTED
    reversed_ = {
        "fixed-length mnist-rows": {"gru": LOW, "lstm": HIGH},
        "variable-length japanese-vowels": {"lstm": LOW, "gru": HIGH},
    }
    assert verdict(make_table(7, reversed_)).kind == REFUTED
    same = {"generation shakespeare": {"lstm": NOISY_A, "gru": NOISY_B}}
    assert verdict(make_table(7, same, higher_is_better=False)).kind == INCONCLUSIVE
    half = {
        "fixed-length mnist-rows": {"gru": HIGH, "lstm": LOW},
        "variable-length japanese-vowels": {"lstm": NOISY_A, "gru": NOISY_B},
    }
    result = verdict(make_table(7, half))
    assert result.kind == SUPPORTED
    assert "(inconclusive on variable-length japanese-vowels" in result.text
    mixed = {
        "fixed-length mnist-rows": {"gru": HIGH, "lstm": LOW},
        "variable-length japanese-vowels": {"lstm": SAME_A, "gru": SAME_B},
    }
    result = verdict(make_table(7, mixed))
    assert result.kind == DEPENDS
    assert "supported on fixed-length mnist-rows" in result.text
    assert "equivalent on variable-length japanese-vowels (within ±" in result.text
    missing = {"variable-length spoken-digits": {"lstm": ["failed"] * 3, "gru": ["failed"] * 3}}
    assert verdict(make_table(7, missing)).kind == INCONCLUSIVE
    with pytest.raises(ValueError, match="must start with"):
        verdict(make_table(7, {"mnist-rows": {"gru": HIGH, "lstm": LOW}}))


def test_claim9_equivalence_supports_but_no_difference_alone_does_not():
    verdict = CLAIMS[9].verdict
    matches = make_table(9, {"adding": {"tcn": SAME_A, "lstm": SAME_B, "gru": SAME_B}})
    assert verdict(matches).kind == SUPPORTED
    beats = make_table(9, {"adding": {"tcn": HIGH, "lstm": LOW, "gru": SAME_B}})
    assert verdict(beats).kind == SUPPORTED
    noisy = make_table(9, {"adding": {"tcn": NOISY_A, "lstm": NOISY_B, "gru": NOISY_B}})
    assert verdict(noisy).kind == INCONCLUSIVE
    loses = make_table(9, {"adding": {"tcn": LOW, "lstm": HIGH, "gru": NOISY_A}})
    assert verdict(loses).kind == REFUTED
    per_task = make_table(
        9,
        {
            "adding": {"tcn": HIGH, "lstm": LOW, "gru": LOW},
            "copy": {"tcn": LOW, "lstm": HIGH, "gru": HIGH},
        },
    )
    result = verdict(per_task)
    assert result.kind == DEPENDS and "refuted on copy" in result.text
    gone = make_table(9, {"adding": {"tcn": ["diverged"] * 3, "lstm": HIGH, "gru": HIGH}})
    assert verdict(gone).kind == INCONCLUSIVE


def test_exact_metrics_are_compared_without_a_test():
    splits = {"params, equal hidden": {"gru": [75, 75, 75], "lstm": [100] * 3}}
    table = make_table(4, splits, False, metric="params")
    c = contrast(table, "params, equal hidden", "value", "gru", "lstm", higher_is_better=False)
    assert c.outcome == "a better" and c.test == "exact" and c.p_value is None
    assert "exact: gru better" in c.describe()
    assert CLAIMS[4].verdict(table).kind == SUPPORTED
    splits = {"FLOPs, equal params": {"gru": [99] * 3, "lstm": [100] * 3}}
    close = make_table(4, splits, False, metric="flops_per_step")
    assert CLAIMS[4].verdict(close).kind == EQUIVALENT  # within the 3 % matching tolerance


def test_constant_measurements_use_a_permutation_test():
    # the same horizon on every seed: no t-test is defined; 3 vs 3 cannot reach p < 0.05 ...
    three = make_table(3, {"horizon": {"lstm": [32] * 3, "gru": [4] * 3}}, metric="horizon")
    c = contrast(three, "horizon", "value", "lstm", "gru", higher_is_better=True)
    assert c.test == "permutation" and c.p_value == pytest.approx(0.1)
    assert CLAIMS[3].verdict(three).kind == INCONCLUSIVE
    # ... 5 vs 5 can
    five = make_table(3, {"horizon": {"lstm": [32] * 5, "gru": [4] * 5}}, metric="horizon")
    assert CLAIMS[3].verdict(five).kind == SUPPORTED
    assert "horizon: lstm 32" in CLAIMS[3].verdict(five).splits[0].contrasts[0].describe()


def test_contrast_reports_means_cis_and_p_values():
    table = make_table(3, {"copy": {"lstm": HIGH, "gru": LOW}})
    c = contrast(table, "copy", "value", "lstm", "gru", higher_is_better=True)
    assert c.summary_a.mean == pytest.approx(0.91)
    assert c.summary_a.low < 0.91 < c.summary_a.high
    assert 0 < c.p_value < 0.05 and c.effect > 0
    assert c.test == "welch" and "welch p = " in c.describe() and "margin ±" in c.describe()
    assert read_contrast(c).outcome == SUPPORTED


def test_partial_inconclusive_is_named_next_to_the_decided_splits():
    table = make_table(
        8,
        {
            "copy T=20": {"forget_bias=1": HIGH, "forget_bias=0": LOW},
            "adding T=50": {"forget_bias=1": ["diverged", "diverged", 0.5], "forget_bias=0": LOW},
        },
    )
    result = CLAIMS[8].verdict(table)
    assert result.kind == SUPPORTED
    assert "inconclusive on adding T=50" in result.text
    assert "2 of 3 forget_bias=1 runs diverged" in result.text


def test_judge_covers_all_nine_claims():
    verdicts = judge(make_table(3, {"copy": {"lstm": HIGH, "gru": LOW}}))
    assert [v.claim for v in verdicts] == list(range(1, 10))
    assert verdicts[2].kind == SUPPORTED
    assert all(v.kind == INCONCLUSIVE for v in verdicts if v.claim != 3)
    assert combine(1, []).kind == INCONCLUSIVE


def test_holm_adjusts_within_a_claim_family():
    # One split alone at p ~ 0.03 is supported; with two more null splits in the same claim,
    # its Holm-adjusted p exceeds 0.05 and the claim is no longer supported there.
    a, b = [1.4, 1.2, 1.0, 1.3, 1.1], [1.15, 0.95, 0.75, 1.05, 0.85]
    lone = make_table(3, {"t1": {"lstm": a, "gru": b}})
    verdict = CLAIMS[3].verdict
    result = verdict(lone)
    assert result.kind == SUPPORTED
    assert 0.01 < result.splits[0].contrasts[0].p_value < 0.05
    family = make_table(
        3,
        {"t1": {"lstm": a, "gru": b}, "t2": {"lstm": NOISY_A, "gru": NOISY_B},
         "t3": {"lstm": NOISY_B, "gru": NOISY_A}},
    )  # fmt: skip
    result = verdict(family)
    assert result.kind == INCONCLUSIVE
    first = result.splits[0].contrasts[0]
    assert first.family == 3 and "Holm-adjusted over 3 contrasts" in first.describe()


def test_margin_override_changes_equivalence():
    from rnnlab.compare.margins import parse_margin

    table = make_table(3, {"copy": {"lstm": SAME_A, "gru": SAME_B}})
    assert CLAIMS[3].verdict(table).kind == EQUIVALENT
    tight = CLAIMS[3].verdict(table, parse_margin("0.00001"))
    assert tight.kind == INCONCLUSIVE
    assert judge(table, margin=parse_margin("0.00001"))[2].kind == INCONCLUSIVE
