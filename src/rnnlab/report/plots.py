"""Figures of a report (matplotlib, Agg backend): each function returns PNG bytes."""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from rnnlab.report.summary import GroupSummary, chance_level


def _png(figure: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def learning_curves(group: GroupSummary) -> bytes | None:
    """Validation metric per epoch: mean over seeds with a min–max band, per model."""
    key = f"val_{group.metric}"
    figure, axis = plt.subplots(figsize=(6, 3.6))
    drawn = False
    for model in group.models:
        series = [c[key] for c in model.curves if c.get(key)]
        name = model.model
        if not series:
            continue
        epochs = min(len(s) for s in series)
        values = np.array([s[:epochs] for s in series], dtype=float)
        x = np.arange(1, epochs + 1)
        axis.plot(x, np.nanmean(values, axis=0), marker="o", label=f"{name} (n={len(series)})")
        if len(series) > 1:
            axis.fill_between(x, np.nanmin(values, axis=0), np.nanmax(values, axis=0), alpha=0.2)
        drawn = True
    if not drawn:
        plt.close(figure)
        return None
    axis.set_xlabel("epoch")
    axis.set_ylabel(f"validation {group.metric}")
    axis.set_title(f"{group.title}: learning curves (band: min–max over seeds)")
    axis.legend(fontsize=8)
    return _png(figure)


def metric_vs_length(groups: list[GroupSummary], task: str) -> bytes | None:
    """Test metric (mean ± CI) against sequence length for one long-range task."""
    same = sorted(
        (g for g in groups if g.task == task and g.options.get("length") is not None),
        key=lambda g: g.options["length"],
    )
    if len({g.options["length"] for g in same}) < 2:
        return None
    figure, axis = plt.subplots(figsize=(6, 3.6))
    models = sorted({m.model for g in same for m in g.models})
    for model in models:
        points = [
            (g.options["length"], m.summary)
            for g in same
            for m in g.models
            if m.model == model and m.summary.n
        ]
        if not points:
            continue
        lengths = [p[0] for p in points]
        means = [p[1].mean for p in points]
        errors = [p[1].half_width for p in points]
        axis.errorbar(lengths, means, yerr=errors, marker="o", capsize=3, label=model)
    chance = [(g.options["length"], chance_level(g)) for g in same]
    chance = [(length, level) for length, level in chance if level is not None]
    if chance:
        axis.plot(*zip(*chance, strict=True), "k--", linewidth=1, label="chance")
    axis.set_xlabel("sequence length T")
    axis.set_ylabel(f"test {same[0].metric}")
    axis.set_title(f"{task}: test {same[0].metric} vs length (95 % CI)")
    axis.legend(fontsize=8)
    return _png(figure)


def metric_vs_params(group: GroupSummary) -> bytes | None:
    """Test metric (mean ± CI) against exact parameter count, one point per model."""
    points = [m for m in group.models if m.summary.n and m.params]
    if not points:
        return None
    figure, axis = plt.subplots(figsize=(5, 3.4))
    for m in points:
        axis.errorbar(
            [m.params],
            [m.summary.mean],
            yerr=[m.summary.half_width],
            marker="o",
            capsize=3,
            label=m.model,
        )
    axis.set_xlabel("parameters")
    axis.set_ylabel(f"test {group.metric}")
    axis.set_title(f"{group.title}: metric vs parameters")
    axis.legend(fontsize=8)
    return _png(figure)


def time_per_epoch(groups: list[GroupSummary]) -> bytes | None:
    """Median training time per epoch of every model in every comparison (grouped bars)."""
    labels = [g.title for g in groups]
    models = sorted({m.model for g in groups for m in g.models})
    if not labels or not models:
        return None
    width = 0.8 / len(models)
    figure, axis = plt.subplots(figsize=(max(6, 1.1 * len(labels)), 3.8))
    for index, model in enumerate(models):
        heights = []
        for g in groups:
            found = [m.time_per_epoch_s for m in g.models if m.model == model]
            heights.append(found[0] if found and math.isfinite(found[0]) else 0.0)
        x = np.arange(len(labels)) + index * width
        axis.bar(x, heights, width, label=model)
    axis.set_xticks(
        np.arange(len(labels)) + 0.4 - width / 2, labels, rotation=30, ha="right", fontsize=7
    )
    axis.set_ylabel("seconds per epoch (median over seeds)")
    axis.set_title("training time per epoch")
    axis.legend(fontsize=8)
    return _png(figure)
