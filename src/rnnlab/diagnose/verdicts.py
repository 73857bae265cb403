"""Verdicts computed from result tables: supported, refuted, no significant difference, ...

A claim's evidence is a set of *contrasts*: on one split (a task, a length, an engine) and
one metric, arm ``a`` against arm ``b`` over seeded runs. Each contrast is decided by
Welch's t-test (``rnnlab.compare.stats``) at p < 0.05 (a permutation test when both sides
have zero spread); seed-independent metrics (parameter counts, analytic FLOPs) are compared
exactly (equal within 3 %). A claim maps
each contrast's outcome to supported / refuted / no significant difference, and
:func:`combine` turns the per-split outcomes into the claim's verdict:

- every conclusive split agrees → that outcome;
- they disagree → **depends on the task**, naming which split went which way;
- no split has enough finished runs → **inconclusive**, saying why ("2 of 3 lstm runs
  diverged").

Nothing here knows the expected answer: the same code with other numbers gives another verdict.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rnnlab.compare.stats import (
    ALPHA,
    Summary,
    bootstrap_test,
    hedges_g,
    mean_ci,
    welch_test,
)

SUPPORTED = "supported"
REFUTED = "refuted"
NO_DIFFERENCE = "no significant difference"
DEPENDS = "depends on the task"
INCONCLUSIVE = "inconclusive"
VERDICT_KINDS = (SUPPORTED, REFUTED, NO_DIFFERENCE, DEPENDS, INCONCLUSIVE)

#: Between split names in verdict sentences (split names may contain commas).
SPLIT_SEPARATOR = " / "
#: Seed-independent figures (parameters, FLOPs) closer than this relative gap count as equal:
#: the tolerance of parameter matching, below which "fewer" means nothing in practice.
EXACT_EQUIVALENCE = 0.03
#: Metrics that do not depend on the seed, compared exactly rather than tested.
SEED_INDEPENDENT_METRICS = frozenset({"params", "flops_per_step"})
#: Fewest finished runs per arm for a contrast to be decided.
MIN_RUNS = 2
#: Columns every result table has; the rest are metrics.
TABLE_COLUMNS = ("claim", "split", "arm", "seed", "status")


@dataclass(frozen=True)
class Contrast:
    """Arm ``a`` against arm ``b`` on one split and metric.

    ``winner`` is ``"a"``, ``"b"``, ``"tie"`` (no significant difference) or ``None`` when too
    few runs finished (``note`` says why). ``effect`` is Hedges' g signed so that positive means
    ``a`` is better; ``test`` is ``Welch``, ``permutation`` (when every seed gave the same
    value on each side) or ``exact`` (seed-independent metrics: parameters, FLOPs).
    """

    split: str
    metric: str
    a: str
    b: str
    higher_is_better: bool
    summary_a: Summary
    summary_b: Summary
    p_value: float | None
    effect: float | None
    winner: str | None
    note: str = ""
    test: str = ""

    def describe(self) -> str:
        """One line: both means with 95 % CIs, the p-value and the effect size."""

        def fmt(s: Summary) -> str:
            if s.n == 0:
                return "no data"
            return f"{s.mean:.4g} ± {s.half_width:.2g} (n={s.n})"

        if self.test == "exact":
            p = "exact (equal within 3 %)" if self.winner == "tie" else "exact"
        elif self.p_value is None:
            p = "p=n/a"
        else:
            p = f"{self.test} p={self.p_value:.3g}"
        g = ""
        if self.effect is not None and math.isfinite(self.effect):
            g = f", g={self.effect:+.2f}"
        text = f"{self.metric}: {self.a} {fmt(self.summary_a)} vs {self.b} {fmt(self.summary_b)}"
        text += f", {p}{g}"
        return f"{text}; {self.note}" if self.note else text


@dataclass(frozen=True)
class SplitOutcome:
    """What one split says about the claim, with the contrasts behind it."""

    split: str
    outcome: str  # SUPPORTED, REFUTED, NO_DIFFERENCE or INCONCLUSIVE
    contrasts: tuple[Contrast, ...]
    note: str = ""


@dataclass(frozen=True)
class ClaimVerdict:
    """The verdict on one claim: its kind, a sentence, and every split's outcome."""

    claim: int
    kind: str
    text: str
    splits: tuple[SplitOutcome, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        """Plain-JSON form for reports."""
        return {
            "claim": self.claim,
            "kind": self.kind,
            "text": self.text,
            "splits": [
                {
                    "split": s.split,
                    "outcome": s.outcome,
                    "note": s.note,
                    "evidence": [c.describe() for c in s.contrasts],
                }
                for s in self.splits
            ],
        }


def _failure_note(rows: pd.DataFrame, arm: str, kept_statuses: Sequence[str]) -> str:
    """'2 of 3 lstm runs diverged' for the runs of ``rows`` whose status is not kept."""
    bad = rows[~rows["status"].isin(kept_statuses)]
    counts = bad["status"].value_counts()
    return ", ".join(f"{n} of {len(rows)} {arm} runs {status}" for status, n in counts.items())


def contrast(
    table: pd.DataFrame,
    split: str,
    metric: str,
    a: str,
    b: str,
    *,
    higher_is_better: bool,
    statuses: Sequence[str] = ("done",),
) -> Contrast:
    """Compare arms ``a`` and ``b`` of ``split`` on ``metric`` (Welch's t-test, p < 0.05).

    Runs whose status is not in ``statuses`` or whose metric is missing are left out and
    counted in ``note``; fewer than :data:`MIN_RUNS` left on either side makes the contrast
    undecided (``winner=None``).
    """
    in_split = table[table["split"] == split]
    values, notes = {}, []
    for arm in (a, b):
        rows = in_split[in_split["arm"] == arm]
        kept = rows[rows["status"].isin(statuses)]
        column = kept[metric] if metric in kept else pd.Series(dtype=float)
        vals = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        vals = vals[np.isfinite(vals)]
        values[arm] = vals
        if rows.empty:
            notes.append(f"no {arm} runs")
            continue
        notes.append(_failure_note(rows, arm, statuses))
        missing = len(kept) - len(vals)
        if missing:
            notes.append(f"{missing} of {len(rows)} {arm} runs without {metric}")
    note = "; ".join(n for n in notes if n)
    sa, sb = mean_ci(values[a]), mean_ci(values[b])
    if min(len(values[a]), len(values[b])) < MIN_RUNS:
        return Contrast(split, metric, a, b, higher_is_better, sa, sb, None, None, None, note, "")
    sign = 1.0 if higher_is_better else -1.0
    declared = set(in_split["metric"]) if "metric" in in_split else set()
    if declared and declared <= SEED_INDEPENDENT_METRICS:  # parameters, FLOPs: compare exactly
        x, y = float(np.mean(values[a])), float(np.mean(values[b]))
        gap = abs(x - y) / max(abs(x), abs(y), 1e-300)
        p_value, effect, test = (0.0 if gap >= EXACT_EQUIVALENCE else 1.0), None, "exact"
    elif np.ptp(values[a]) == 0 and np.ptp(values[b]) == 0:
        # Every seed gave the same value on each side: Welch's t is undefined, a permutation
        # test still is (and cannot reach p < 0.05 with 3 seeds against 3).
        p_value, effect, test = bootstrap_test(values[a], values[b]), None, "permutation"
    else:
        with warnings.catch_warnings():  # scipy warns on nearly equal samples; p is still fine
            warnings.simplefilter("ignore", RuntimeWarning)
            p_value, test = welch_test(values[a], values[b]), "Welch"
        effect = sign * hedges_g(values[a], values[b])
    if math.isfinite(p_value) and p_value < ALPHA:
        winner = "a" if sign * (sa.mean - sb.mean) > 0 else "b"
    else:
        winner = "tie"
    label = ", ".join(sorted(declared)) or metric
    return Contrast(
        split, label, a, b, higher_is_better, sa, sb, p_value, effect, winner, note, test
    )


#: How a claim reads a contrast: ``a`` better, ``b`` better, no significant difference.
Reading = tuple[str, str, str]
CLAIM_A_BETTER: Reading = (SUPPORTED, REFUTED, NO_DIFFERENCE)
CLAIM_NOT_WORSE: Reading = (SUPPORTED, REFUTED, SUPPORTED)  # "matches or beats"


def read_contrast(c: Contrast, reading: Reading = CLAIM_A_BETTER) -> SplitOutcome:
    """Turn one contrast into a split outcome, reading ``a`` as the arm the claim favours."""
    if c.winner is None:
        return SplitOutcome(c.split, INCONCLUSIVE, (c,), c.note or "too few finished runs")
    outcome = {"a": reading[0], "b": reading[1], "tie": reading[2]}[c.winner]
    return SplitOutcome(c.split, outcome, (c,), c.note)


def all_of(split: str, outcomes: Sequence[SplitOutcome]) -> SplitOutcome:
    """Several contrasts that must all hold on one split (e.g. LSTM > RNN and GRU > RNN)."""
    contrasts = tuple(c for o in outcomes for c in o.contrasts)
    note = "; ".join(o.note for o in outcomes if o.note)
    kinds = {o.outcome for o in outcomes}
    if INCONCLUSIVE in kinds:
        return SplitOutcome(split, INCONCLUSIVE, contrasts, note)
    if REFUTED in kinds:
        return SplitOutcome(split, REFUTED, contrasts, note)
    if kinds == {SUPPORTED}:
        return SplitOutcome(split, SUPPORTED, contrasts, note)
    return SplitOutcome(split, NO_DIFFERENCE, contrasts, note)


def combine(claim: int, outcomes: Sequence[SplitOutcome]) -> ClaimVerdict:
    """The claim's verdict from its splits (see the module docstring for the rules)."""
    outcomes = tuple(outcomes)
    if not outcomes:
        return ClaimVerdict(claim, INCONCLUSIVE, "inconclusive: no runs", outcomes)
    conclusive = [o for o in outcomes if o.outcome != INCONCLUSIVE]
    undecided = [o for o in outcomes if o.outcome == INCONCLUSIVE]
    undecided_text = "; ".join(f"{o.split}: {o.note or 'too few finished runs'}" for o in undecided)
    if not conclusive:
        return ClaimVerdict(claim, INCONCLUSIVE, f"inconclusive: {undecided_text}", outcomes)
    kinds = {o.outcome for o in conclusive}
    if len(kinds) == 1:
        kind = kinds.pop()
        text = kind
        if len(conclusive) > 1 or len(outcomes) > 1:
            text += " on " + SPLIT_SEPARATOR.join(o.split for o in conclusive)
    else:
        kind = DEPENDS
        parts = []
        for outcome in (SUPPORTED, REFUTED, NO_DIFFERENCE):
            names = [o.split for o in conclusive if o.outcome == outcome]
            if names:
                parts.append(f"{outcome} on {SPLIT_SEPARATOR.join(names)}")
        text = f"{DEPENDS}: " + "; ".join(parts)
    if undecided:
        text += f" (inconclusive on {undecided_text})"
    return ClaimVerdict(claim, kind, text, outcomes)


def splits_of(table: pd.DataFrame, claim: int) -> list[str]:
    """The splits of one claim in the order they first appear in the table."""
    rows = table[table["claim"] == claim]
    return list(dict.fromkeys(rows["split"]))


VerdictFn = Callable[[pd.DataFrame], ClaimVerdict]
