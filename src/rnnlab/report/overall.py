"""The report's first screen: the overall answer across tasks, with its uncertainty.

Turns the per-comparison summaries into normalised scores
(:mod:`rnnlab.compare.aggregate`) and states, for the two models with the highest
interquartile mean, which is better across the suite (probability of improvement with a
stratified bootstrap CI), plus a performance-profile figure of every model.
"""

from __future__ import annotations

import pandas as pd

from rnnlab.compare.aggregate import iqm_ci, normalise, overall_answer, performance_profile
from rnnlab.report.summary import GroupSummary, chance_level

#: Fewest comparisons (tasks) for an aggregate to be stated.
MIN_TASKS = 2


def scores_of(groups: list[GroupSummary]) -> pd.DataFrame:
    """Normalised scores (``task``, ``model``, ``seed``, ``value``, ``score``) of the groups."""
    rows = [
        (g.title, m.model, seed, value)
        for g in groups
        for m in g.models
        for seed, value in enumerate(m.values)
    ]
    runs = pd.DataFrame(rows, columns=["task", "model", "seed", "value"])
    higher = {g.title: g.higher_is_better for g in groups}
    chance = {g.title: chance_level(g) for g in groups}
    return normalise(runs, higher, chance)


def overall(groups: list[GroupSummary]) -> tuple[str, bytes | None] | None:
    """(sentence, performance-profile PNG) across the groups, or None with < 2 tasks."""
    scores = scores_of(groups)
    if scores.empty or scores["task"].nunique() < MIN_TASKS:
        return None
    counts = scores.groupby("model")["task"].nunique()
    models = [m for m in counts.index if counts[m] >= MIN_TASKS]
    if len(models) < 2:
        return None
    iqms = {m: iqm_ci(scores, m) for m in models}
    ranked = sorted(models, key=lambda m: iqms[m].value, reverse=True)
    text = overall_answer(scores, ranked[0], ranked[1])
    if len(ranked) > 2:
        text += " IQM of every model: " + ", ".join(f"{m} {iqms[m].text()}" for m in ranked) + "."
    text += (
        " Scores are normalised per task (0 = chance level where the task defines one, else "
        "the worst run; 1 = the best run observed); see docs/comparisons.md."
    )
    return text, _profile_png(scores, ranked)


def _profile_png(scores: pd.DataFrame, models: list[str]) -> bytes | None:
    from rnnlab.report import plots

    figure, axis = plots.plt.subplots(figsize=(6, 3.6))
    for model in models:
        profile = performance_profile(scores, model)
        axis.plot(profile.taus, profile.fraction, label=model)
        axis.fill_between(profile.taus, profile.low, profile.high, alpha=0.2)
    axis.set_xlabel("normalised score τ")
    axis.set_ylabel("fraction of runs with score > τ")
    axis.set_ylim(0, 1.02)
    axis.legend()
    axis.grid(alpha=0.3)
    return plots.png(figure)
