"""The answer first: one line per comparison saying who won, by how much, and how sure.

The line is written from an :class:`Answer`, a small record of the decision (outcome, the
two models, the difference of means with its interval, per-seed wins), so the test behind it
can change without touching the wording. Today :func:`answer_for` fills it from the group's
Welch verdict (best model vs runner-up).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rnnlab.report.summary import MIN_SEEDS, GroupSummary, ModelSummary, format_value

A_BETTER, B_BETTER, EQUIVALENT, INCONCLUSIVE = "a better", "b better", "equivalent", "inconclusive"


@dataclass(frozen=True)
class Answer:
    """The decision of one comparison, as the first screen shows it.

    ``a`` is the model with the better mean; ``diff`` is mean(a) − mean(b) in the metric's
    units with its 95 % interval ``diff_ci``; ``wins`` counts the seeds (paired by seed
    number) on which ``a`` did better than ``b``, out of ``paired``.
    """

    title: str
    metric: str
    higher_is_better: bool
    outcome: str
    a: str | None
    b: str | None
    diff: float | None = None
    diff_ci: tuple[float, float] | None = None
    wins: int = 0
    paired: int = 0
    n_a: int = 0
    n_b: int = 0
    test: str = "Welch t-test"
    p_value: float | None = None
    margin: float | None = None  # the equivalence margin of the decision, in metric units


def _seed_wins(a: ModelSummary, b: ModelSummary, higher_is_better: bool) -> tuple[int, int]:
    by_seed = dict(zip(b.seeds, b.values, strict=True))
    pairs = [(va, by_seed[s]) for s, va in zip(a.seeds, a.values, strict=True) if s in by_seed]
    sign = 1 if higher_is_better else -1
    return sum(sign * (va - vb) > 0 for va, vb in pairs), len(pairs)


def answer_for(group: GroupSummary) -> Answer:
    """The :class:`Answer` of ``group`` from its verdict (:func:`rnnlab.compare.stats.decide`
    of the best model against the runner-up: better, equivalent within the margin, or
    inconclusive; Holm-adjusted over the report)."""
    verdict = group.verdict
    test = "permutation test" if verdict.test == "permutation" else "Welch t-test"
    models = {m.model: m for m in group.models}
    if verdict.best is None or verdict.runner_up is None:
        return Answer(group.title, group.metric, group.higher_is_better, INCONCLUSIVE,
                      verdict.best, None, test=test)  # fmt: skip
    a, b = models[verdict.best], models[verdict.runner_up]
    diff = a.summary.mean - b.summary.mean
    decision = verdict.decision
    diff_ci = None
    if decision is not None and all(math.isfinite(v) for v in decision.diff_ci):
        diff_ci = decision.diff_ci
    wins, paired = _seed_wins(a, b, group.higher_is_better)
    return Answer(
        group.title,
        group.metric,
        group.higher_is_better,
        decision.outcome if decision is not None else INCONCLUSIVE,
        a.model,
        b.model,
        diff,
        diff_ci,
        wins,
        paired,
        len(a.values),
        len(b.values),
        test,
        verdict.p_value,
        decision.margin if decision is not None else None,
    )


def answer_line(answer: Answer) -> str:
    """``adding (length=20): **gru better** than lstm — mse gru − lstm = −0.012 (95 % CI
    −0.02 to −0.004); gru better on 3/3 seeds; Welch t-test p = 0.01.`` (Markdown)."""
    if answer.a is None or answer.b is None:
        return f"{answer.title}: **no comparison** — fewer than two models have finished runs."
    if answer.outcome == A_BETTER:
        head = f"**{answer.a} better** than {answer.b}"
    elif answer.outcome == B_BETTER:
        head = f"**{answer.b} better** than {answer.a}"
    elif answer.outcome == EQUIVALENT:
        head = f"**{answer.a} and {answer.b} equivalent**"
        if answer.margin is not None:
            head += f" within ±{format_value(answer.margin, 2)}"
    else:
        head = f"**no winner** between {answer.a} and {answer.b} (inconclusive)"
    parts = []
    if answer.diff is not None and math.isfinite(answer.diff):
        text = f"{answer.metric} {answer.a} − {answer.b} = {format_value(answer.diff, 2)}"
        if answer.diff_ci is not None:
            low, high = (format_value(v, 2) for v in answer.diff_ci)
            text += f" (95 % CI {low} to {high})"
        parts.append(text)
        if answer.paired:
            parts.append(f"{answer.a} better on {answer.wins}/{answer.paired} seeds")
    if answer.p_value is not None:
        parts.append(f"{answer.test} p = {answer.p_value:.2g}")
    if answer.margin is not None:
        parts.append(f"margin ±{format_value(answer.margin, 2)}")
    few = min(answer.n_a, answer.n_b)
    if few < MIN_SEEDS:
        parts.append(f"only {few} seed{'s' if few != 1 else ''}: too few for a test to decide")
    return f"{answer.title}: {head} — " + "; ".join(parts) + "."
