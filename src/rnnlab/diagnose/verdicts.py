"""Verdicts computed from result tables: supported, refuted, equivalent, inconclusive, ...

A claim's evidence is a set of *contrasts*: on one split (a task, a length, an engine) and
one metric, arm ``a`` against arm ``b`` over seeded runs. Each contrast is a
:func:`rnnlab.compare.stats.decide` decision (a better / b better / equivalent within
±margin / inconclusive) at the metric's margin (:mod:`rnnlab.compare.margins`), and all the
contrasts of one claim are one family: their p-values are Holm-adjusted together before any
is read. Seed-independent metrics (parameter counts, analytic FLOPs) are compared exactly
(equivalent within the 3 % of parameter matching).

A claim reads each decision (:data:`CLAIM_A_BETTER`, or :data:`CLAIM_NOT_WORSE` for "matches
or beats", where only "a better" or "equivalent" support it and an inconclusive contrast
stays inconclusive), and :func:`combine` turns the per-split outcomes into its verdict:

- every conclusive split agrees → that outcome (supported, refuted, equivalent within
  ±margin);
- they disagree → **depends on the task**, naming which split went which way;
- no split is conclusive → **inconclusive**, saying why (the difference the seeds could
  have detected, or "2 of 3 lstm runs diverged").

Nothing here knows the expected answer: the same code with other numbers gives another verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from rnnlab.compare import stats
from rnnlab.compare.margins import EXACT_METRICS, Margin, default_margin
from rnnlab.compare.stats import Decision, Summary, decide, mean_ci

SUPPORTED = "supported"
REFUTED = "refuted"
EQUIVALENT = "equivalent"
DEPENDS = "depends on the task"
INCONCLUSIVE = "inconclusive"
VERDICT_KINDS = (SUPPORTED, REFUTED, EQUIVALENT, DEPENDS, INCONCLUSIVE)

#: Between split names in verdict sentences (split names may contain commas).
SPLIT_SEPARATOR = " / "
#: Columns every result table has; the rest are metrics.
TABLE_COLUMNS = ("claim", "split", "arm", "seed", "status")


@dataclass(frozen=True)
class Contrast:
    """Arm ``a`` against arm ``b`` on one split and metric, with its decision.

    ``decision.test`` is ``welch``, ``permutation`` or ``exact`` (seed-independent metrics);
    ``family`` is the number of tested contrasts its p-values were Holm-adjusted over.
    """

    split: str
    metric: str
    a: str
    b: str
    higher_is_better: bool
    summary_a: Summary
    summary_b: Summary
    decision: Decision
    note: str = ""
    family: int = 1

    @property
    def outcome(self) -> str:
        """The decision's outcome: ``a better``, ``b better``, ``equivalent``, ``inconclusive``."""
        return self.decision.outcome

    @property
    def p_value(self) -> float | None:
        """The (adjusted) p-value of the difference, None when untested."""
        p = self.decision.p_value
        return p if math.isfinite(p) else None

    @property
    def effect(self) -> float | None:
        """Hedges' g signed so that positive means ``a`` is better (None when undefined)."""
        g = self.decision.effect
        if not math.isfinite(g):
            return None
        return g if self.higher_is_better else -g

    @property
    def test(self) -> str:
        """``welch``, ``permutation``, ``exact`` or ``""``."""
        return self.decision.test

    def describe(self) -> str:
        """One line: both means with 95 % CIs, then the decision with its margin and p."""

        def fmt(s: Summary) -> str:
            if s.n == 0:
                return "no data"
            return f"{s.mean:.4g} ± {s.half_width:.2g} (n={s.n})"

        text = f"{self.metric}: {self.a} {fmt(self.summary_a)} vs {self.b} {fmt(self.summary_b)}"
        if self.test == "exact":
            words = self.decision.words(self.a, self.b)
            text += f", exact: {words} (margin ±{self.decision.margin:.3g})"
        else:
            text += f", {self.decision.describe(self.a, self.b)}"
        if self.family > 1:
            text += f", Holm-adjusted over {self.family} contrasts"
        return f"{text}; {self.note}" if self.note else text


@dataclass(frozen=True)
class SplitOutcome:
    """What one split says about the claim, with the contrasts behind it."""

    split: str
    outcome: str  # SUPPORTED, REFUTED, EQUIVALENT or INCONCLUSIVE
    contrasts: tuple[Contrast, ...]
    note: str = ""

    @property
    def label(self) -> str:
        """The split's name, with its margin when it was found equivalent."""
        if self.outcome != EQUIVALENT or not self.contrasts:
            return self.split
        margins = ", ".join(dict.fromkeys(f"±{c.decision.margin:.3g}" for c in self.contrasts))
        return f"{self.split} (within {margins})"


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


def _exact(x: np.ndarray, y: np.ndarray, higher_is_better: bool, margin: Margin) -> Decision:
    """Seed-independent figures: equal within the margin, or the better side, no test."""
    nan = math.nan
    mx, my = float(np.mean(x)), float(np.mean(y))
    width = margin.resolve(x, y)
    if abs(mx - my) < width:
        outcome = stats.EQUIVALENT
    else:
        outcome = stats.A_BETTER if (mx > my) == higher_is_better else stats.B_BETTER
    diff = mx - my
    return Decision(
        outcome, nan, diff, (diff, diff), nan, width, stats.ALPHA, "exact", nan, nan, None,
        int(x.size), int(y.size), higher_is_better,
    )  # fmt: skip


def contrast(
    table: pd.DataFrame,
    split: str,
    metric: str,
    a: str,
    b: str,
    *,
    higher_is_better: bool,
    statuses: Sequence[str] = ("done",),
    margin: Margin | None = None,
    alpha: float = stats.ALPHA,
) -> Contrast:
    """Decide arms ``a`` and ``b`` of ``split`` on column ``metric`` of ``table``.

    Runs whose status is not in ``statuses`` or whose metric is missing are left out and
    counted in ``note``. ``margin`` defaults to the metric's (the table's ``metric`` column
    names it; :func:`rnnlab.compare.margins.default_margin`).
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
    declared = sorted(set(in_split["metric"].dropna())) if "metric" in in_split else []
    label = ", ".join(declared) or metric
    margin = margin or default_margin(declared[0] if len(declared) == 1 else metric)
    x, y = values[a], values[b]
    if declared and set(declared) <= EXACT_METRICS and min(x.size, y.size) >= 1:
        decision = _exact(x, y, higher_is_better, margin)
    else:
        width = margin.resolve(x, y)
        decision = decide(x, y, higher_is_better=higher_is_better, margin=width, alpha=alpha)
    return Contrast(split, label, a, b, higher_is_better, mean_ci(x), mean_ci(y), decision, note)


def adjust_family(family: Mapping[str, Sequence[Contrast]]) -> dict[str, list[Contrast]]:
    """Holm-adjust every tested contrast of one claim (``split -> contrasts``) together.

    Exact contrasts (no sampling error) and untestable ones are left as they are.
    """
    flat = [(split, i, c) for split, cs in family.items() for i, c in enumerate(cs)]
    tested = [(split, i, c) for split, i, c in flat if c.p_value is not None]
    adjusted = stats.adjust([c.decision for _, _, c in tested])
    out = {split: list(cs) for split, cs in family.items()}
    for (split, i, c), decision in zip(tested, adjusted, strict=True):
        out[split][i] = replace(c, decision=decision, family=len(tested))
    return out


#: How a claim reads a decision, from ``a`` (the arm the claim favours) to ``b``.
Reading = Mapping[str, str]
CLAIM_A_BETTER: Reading = {
    stats.A_BETTER: SUPPORTED,
    stats.B_BETTER: REFUTED,
    stats.EQUIVALENT: EQUIVALENT,
    stats.INCONCLUSIVE: INCONCLUSIVE,
}
#: "a matches or beats b": supported by "a better" or "equivalent", never by absence of a
#: significant difference (which stays inconclusive).
CLAIM_NOT_WORSE: Reading = {**CLAIM_A_BETTER, stats.EQUIVALENT: SUPPORTED}


def read_contrast(c: Contrast, reading: Reading = CLAIM_A_BETTER) -> SplitOutcome:
    """Turn one contrast into a split outcome."""
    outcome = reading[c.outcome]
    note = c.note
    if outcome == INCONCLUSIVE:
        if not c.test:
            note = note or "too few finished runs"
        else:
            note = "; ".join(n for n in (note, c.decision.settle_text()) if n)
    return SplitOutcome(c.split, outcome, (c,), note)


def all_of(split: str, outcomes: Sequence[SplitOutcome]) -> SplitOutcome:
    """Several contrasts that must all hold on one split (e.g. LSTM > RNN and GRU > RNN).

    One refuted contrast refutes the split; otherwise one inconclusive leaves it
    inconclusive; otherwise any equivalent makes it equivalent; else supported.
    """
    contrasts = tuple(c for o in outcomes for c in o.contrasts)
    note = "; ".join(dict.fromkeys(o.note for o in outcomes if o.note))
    kinds = {o.outcome for o in outcomes}
    for kind in (REFUTED, INCONCLUSIVE, EQUIVALENT, SUPPORTED):
        if kind in kinds:
            return SplitOutcome(split, kind, contrasts, note)
    return SplitOutcome(split, INCONCLUSIVE, contrasts, note or "no contrasts")


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
        if len(conclusive) > 1 or len(outcomes) > 1 or kind == EQUIVALENT:
            text += " on " + SPLIT_SEPARATOR.join(o.label for o in conclusive)
    else:
        kind = DEPENDS
        parts = []
        for outcome in (SUPPORTED, REFUTED, EQUIVALENT):
            names = [o.label for o in conclusive if o.outcome == outcome]
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


#: ``verdict(table, margin, alpha)``: ``margin`` None uses each metric's default margin.
VerdictFn = Callable[[pd.DataFrame, Margin | None, float], ClaimVerdict]
