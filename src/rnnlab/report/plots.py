"""Figures of a report (matplotlib, Agg backend): each function returns PNG bytes.

Every figure of one report takes the same ``colours`` map (:func:`rnnlab.report.palette.
model_colours` over all the report's models), so a model has one colour throughout. Figures
are rendered at :data:`DPI` (2× the size they are shown at) with labels of at least
:data:`FONT_PT` points, and draw the chance level where the task defines one.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np

from rnnlab.report.palette import CHANCE
from rnnlab.report.summary import GroupSummary, chance_level

DPI = 200
"""Rendered dots per inch; HTML shows figures at half their pixel size (crisp on 2× screens)."""
SHOWN_DPI = 100
FONT_PT = 10


def png(figure: plt.Figure) -> bytes:
    """The figure as PNG bytes at :data:`DPI` (tight box: no clipped labels); closes it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def style(axis: plt.Axes) -> None:
    """Readable ticks and labels (≥ :data:`FONT_PT` pt) on ``axis``."""
    axis.tick_params(labelsize=FONT_PT)
    axis.xaxis.label.set_size(FONT_PT + 1)
    axis.yaxis.label.set_size(FONT_PT + 1)
    axis.title.set_size(FONT_PT + 1)
    axis.grid(alpha=0.3)


def spans_a_decade(values: np.ndarray) -> bool:
    """True when positive ``values`` span more than a factor of ten (then use a log axis)."""
    finite = values[np.isfinite(values)]
    return finite.size > 1 and finite.min() > 0 and finite.max() / finite.min() > 10


def _chance_line(axis: plt.Axes, level: float | None) -> None:
    if level is not None:
        axis.axhline(level, color=CHANCE, linestyle="--", linewidth=1, label="chance level")


def learning_curves(group: GroupSummary, colours: dict[str, str]) -> bytes | None:
    """Validation metric per epoch: mean over seeds with a min–max band, per model, with the
    chance level; a log axis where the values span more than a decade."""
    key = f"val_{group.metric}"
    figure, axis = plt.subplots(figsize=(6, 3.6))
    drawn = []
    for model in group.models:
        series = [c[key] for c in model.curves if c.get(key)]
        if not series:
            continue
        epochs = min(len(s) for s in series)
        values = np.array([s[:epochs] for s in series], dtype=float)
        x = np.arange(1, epochs + 1)
        colour = colours[model.model]
        axis.plot(
            x, np.nanmean(values, axis=0), marker="o", color=colour,
            label=f"{model.model} ({len(series)} seeds)",
        )  # fmt: skip
        if len(series) > 1:
            axis.fill_between(
                x, np.nanmin(values, axis=0), np.nanmax(values, axis=0), color=colour, alpha=0.2
            )
        drawn.append(values.ravel())
    if not drawn:
        plt.close(figure)
        return None
    level = chance_level(group)
    _chance_line(axis, level)
    every = np.concatenate([*drawn, [level] if level is not None else []])
    if spans_a_decade(every):
        axis.set_yscale("log")
    axis.set_xlabel("epoch")
    axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    axis.set_ylabel(f"validation {group.metric} ({'↑' if group.higher_is_better else '↓'} better)")
    axis.set_title(f"{group.title}: learning curves (band: min–max over seeds)")
    style(axis)
    axis.legend(fontsize=FONT_PT - 1)
    return png(figure)


def seed_values(group: GroupSummary, colours: dict[str, str]) -> bytes | None:
    """Every seed's test metric (dots) beside each model's mean and 95 % interval, with the
    chance level: a reader sees the spread a test with few seeds has to work with."""
    models = [m for m in group.models if m.values]
    if not models:
        return None
    figure, axis = plt.subplots(figsize=(max(4.0, 1.2 * len(models) + 2), 3.4))
    jitter = np.random.default_rng(0)
    every = []
    for i, m in enumerate(models):
        colour = colours[m.model]
        values = np.asarray(m.values, dtype=float)
        every.append(values)
        x = i + jitter.uniform(-0.12, 0.12, values.size)
        axis.scatter(x, values, s=22, color=colour, alpha=0.7, edgecolors="none", zorder=3)
        s = m.summary
        axis.errorbar(
            i + 0.3, s.mean, yerr=[[s.mean - s.low], [s.high - s.mean]], fmt="D",
            color=colour, capsize=4, markersize=6, zorder=4,
        )  # fmt: skip
    level = chance_level(group)
    _chance_line(axis, level)
    if spans_a_decade(np.concatenate([*every, [level] if level is not None else []])):
        axis.set_yscale("log")
    axis.set_xticks(range(len(models)), [f"{m.model}\n{len(m.values)} seeds" for m in models])
    axis.set_xlim(-0.6, len(models) - 0.2)
    axis.set_ylabel(f"test {group.metric} ({'↑' if group.higher_is_better else '↓'} better)")
    axis.set_title(f"{group.title}: every seed (dots), mean and 95 % interval (◆)")
    style(axis)
    if level is not None:
        axis.legend(fontsize=FONT_PT - 1)
    return png(figure)


def metric_vs_length(
    groups: list[GroupSummary], task: str, colours: dict[str, str]
) -> bytes | None:
    """Test metric (mean and 95 % interval) against sequence length for one long-range task."""
    same = sorted(
        (g for g in groups if g.task == task and g.options.get("length") is not None),
        key=lambda g: g.options["length"],
    )
    if len({g.options["length"] for g in same}) < 2:
        return None
    figure, axis = plt.subplots(figsize=(6, 3.6))
    models = list(dict.fromkeys(m.model for g in same for m in g.models))
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
        means = np.array([p[1].mean for p in points])
        errors = [means - [p[1].low for p in points], [p[1].high for p in points] - means]
        axis.errorbar(
            lengths, means, yerr=errors, marker="o", capsize=3, label=model, color=colours[model]
        )
    chance = [(g.options["length"], chance_level(g)) for g in same]
    chance = [(length, level) for length, level in chance if level is not None]
    if chance:
        axis.plot(*zip(*chance, strict=True), "--", color=CHANCE, linewidth=1, label="chance")
    axis.set_xlabel("sequence length T")
    axis.set_ylabel(f"test {same[0].metric}")
    axis.set_title(f"{task}: test {same[0].metric} vs length (95 % interval)")
    style(axis)
    axis.legend(fontsize=FONT_PT - 1)
    return png(figure)


def time_per_epoch(groups: list[GroupSummary], colours: dict[str, str]) -> bytes | None:
    """Median training time per epoch of every model in every comparison (grouped bars)."""
    labels = [g.title for g in groups]
    models = list(dict.fromkeys(m.model for g in groups for m in g.models))
    if not labels or not models:
        return None
    width = 0.8 / len(models)
    figure, axis = plt.subplots(figsize=(max(6, 1.1 * len(labels)), 3.8))
    for index, model in enumerate(models):
        heights = []
        for g in groups:
            found = [m.time_per_epoch_s for m in g.models if m.model == model]
            heights.append(found[0] if found and np.isfinite(found[0]) else 0.0)
        x = np.arange(len(labels)) + index * width
        axis.bar(x, heights, width, label=model, color=colours[model])
    axis.set_xticks(np.arange(len(labels)) + 0.4 - width / 2, labels, rotation=20, ha="right")
    axis.set_ylabel("seconds per epoch\n(median over seeds)")
    axis.set_title("training time per epoch")
    style(axis)
    axis.legend(fontsize=FONT_PT - 1)
    return png(figure)
