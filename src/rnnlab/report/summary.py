"""Summaries of a results store: one :class:`GroupSummary` per comparison (task + options +
budget), with per-model statistics, cost and the verdict, computed from the store alone."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnlab.compare.margins import Margin, default_margin
from rnnlab.compare.stats import GroupVerdict, Summary, adjust_table, compare_groups, mean_ci
from rnnlab.compare.store import RunRow
from rnnlab.compare.tasks import LENGTH_TASKS, TASKS

SIZE_KNOBS = ("train_size", "eval_size", "limit", "sha256", "loader")
"""Options that only size (or pin) a task; shown in the setup line, not in the group's title."""


@dataclass
class ModelSummary:
    """Final runs of one model in one comparison."""

    model: str
    values: list[float]
    summary: Summary
    statuses: dict[str, int]
    params: int | None
    hidden_size: int
    num_layers: int
    lr: float | None
    tune_trials: int
    time_per_epoch_s: float
    flops_per_step: float
    latency_ms: float
    peak_memory_mb: float
    peak_memory_kind: str
    curves: list[dict[str, list[float]]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class GroupSummary:
    """One comparison: a task with fixed options and budget, several models."""

    task: str
    options: dict[str, Any]
    budget: int | None
    metric: str
    higher_is_better: bool
    models: list[ModelSummary]
    verdict: GroupVerdict
    train: dict[str, Any] = field(default_factory=dict)
    baselines: dict[str, float] = field(default_factory=dict)
    """Test ``metric`` of non-neural baselines on the same test set (user data); shown beside
    the models, never part of the verdict."""

    @property
    def title(self) -> str:
        """``task (length=50)``: the task and the options that tell groups apart."""
        spec = TASKS.get(self.task)
        defaults = spec.options if spec else {}
        shown = {
            k: v
            for k, v in self.options.items()
            if k == "length" or (k not in SIZE_KNOBS and v != defaults.get(k))
        }
        if "path" in shown:  # user data: the file name says it
            shown["path"] = Path(str(shown["path"])).name
        inner = ", ".join(f"{k}={v}" for k, v in shown.items() if v is not None)
        return f"{self.task} ({inner})" if inner else self.task

    @property
    def direction(self) -> str:
        """``higher is better`` or ``lower is better``."""
        return "higher is better" if self.higher_is_better else "lower is better"


def _median(values: list[float]) -> float:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.median(finite) if finite else math.nan


def _group_key(row: RunRow) -> str:
    # Runs compete in one group when task, data options, budget and training settings agree;
    # the learning rate is left out because equal tuning may choose it per model.
    config = row.config
    train = {k: v for k, v in config.get("train", {}).items() if k != "lr"}
    return json.dumps(
        [row.task, config.get("task_options", {}), config.get("budget"), train], sort_keys=True
    )


def summarize(
    rows: list[RunRow],
    method: str = "welch",
    baselines: Callable[[str, dict[str, Any]], dict[str, dict[str, float]]] | None = None,
    margin: Margin | None = None,
) -> list[GroupSummary]:
    """Group the final runs of a store into comparisons and summarise each.

    Each group's verdict is :func:`rnnlab.compare.stats.compare_groups` at ``margin`` (None:
    the metric's default, :mod:`rnnlab.compare.margins`), Holm-adjusted over all groups.

    ``baselines(task, task_options)`` (e.g. :meth:`rnnlab.compare.store.Store.baselines`)
    gives the test metrics of baselines stored for a setup.
    """
    finals: dict[str, list[RunRow]] = {}
    tunes: dict[tuple[str, str], int] = {}
    for row in rows:
        key = _group_key(row)
        if row.phase == "final":
            finals.setdefault(key, []).append(row)
        elif row.phase == "tune":
            tunes[(key, row.model)] = tunes.get((key, row.model), 0) + 1
    groups = []
    for key, group_rows in finals.items():
        task = group_rows[0].task
        spec = TASKS.get(task)
        metric = spec.metric if spec else "loss"
        higher = spec.higher_is_better if spec else False
        by_model: dict[str, list[RunRow]] = {}
        for row in group_rows:
            by_model.setdefault(row.model, []).append(row)
        models = [
            _model_summary(model, runs, metric, tunes.get((key, model), 0))
            for model, runs in by_model.items()
        ]
        verdict = compare_groups(
            {m.model: m.values for m in models if m.values},
            higher,
            margin or default_margin(metric),
            method=method,
        )
        config = group_rows[0].config
        options = config.get("task_options", {})
        stored = baselines(task, options) if baselines else {}
        groups.append(
            GroupSummary(
                task,
                options,
                config.get("budget"),
                metric,
                higher,
                models,
                verdict,
                {k: v for k, v in config.get("train", {}).items() if k != "lr"},
                {
                    name: float(values[f"test_{metric}"])
                    for name, values in stored.items()
                    if f"test_{metric}" in values
                },
            )
        )
    for group, verdict in zip(groups, adjust_table([g.verdict for g in groups]), strict=True):
        group.verdict = verdict
    return groups


def _model_summary(model: str, runs: list[RunRow], metric: str, trials: int) -> ModelSummary:
    runs = sorted(runs, key=lambda r: r.seed)
    done = [r for r in runs if r.status == "done"]
    values = [float(r.metrics[f"test_{metric}"]) for r in done if f"test_{metric}" in r.metrics]
    statuses: dict[str, int] = {}
    for run in runs:
        statuses[run.status] = statuses.get(run.status, 0) + 1
    costs = [r.cost for r in runs if r.cost]
    first = runs[0].config
    return ModelSummary(
        model=model,
        values=values,
        summary=mean_ci(values),
        statuses=statuses,
        params=costs[0].get("params") if costs else None,
        hidden_size=first.get("hidden_size", 0),
        num_layers=first.get("num_layers", 1),
        lr=first.get("train", {}).get("lr"),
        tune_trials=trials,
        time_per_epoch_s=_median([c.get("time_per_epoch_s", math.nan) for c in costs]),
        flops_per_step=_median([c.get("flops_per_step", math.nan) for c in costs]),
        latency_ms=_median([c.get("latency_ms_per_seq", math.nan) for c in costs]),
        peak_memory_mb=max((c.get("peak_memory_mb", math.nan) for c in costs), default=math.nan),
        peak_memory_kind=costs[0].get("peak_memory_kind", "") if costs else "",
        curves=[r.curves for r in done if r.curves],
        errors=[
            f"seed {r.seed}: {r.status}: {(r.error or '').strip().splitlines()[-1:]}"
            for r in runs
            if r.status in ("diverged", "failed", "running")
        ],
    )


def format_value(value: float | None, digits: int = 4) -> str:
    """Compact number: 4 significant digits, scientific for tiny/huge values, '–' for nan."""
    if value is None or not math.isfinite(value):
        return "–"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


def format_summary(summary: Summary) -> str:
    """``mean ± half-width (n=…)``."""
    if summary.n == 0:
        return "no finished runs"
    return f"{format_value(summary.mean)} ± {format_value(summary.half_width, 2)} (n={summary.n})"


def verdict_text(group: GroupSummary) -> str:
    """The verdict line: best vs runner-up decided with its margin (better / equivalent /
    inconclusive with the detectable difference), and the Holm family it belongs to."""
    return group.verdict.text


def chance_level(group: GroupSummary) -> float | None:
    """The deciding metric of a trivial strategy on a synthetic task of fixed length (e.g.
    1/6 MSE on adding), or None where the task defines none."""
    from rnnlab.data.synthetic import make_task

    if group.task not in LENGTH_TASKS or "length" not in group.options:
        return None
    extra = {k: v for k, v in group.options.items() if k not in ("length", *SIZE_KNOBS)}
    try:
        level = make_task(group.task, int(group.options["length"]), **extra).chance_level
    except ValueError:  # options of another rnnlab version
        return None
    return float(level) if level == level else None


def status_text(statuses: dict[str, int]) -> str:
    """``3 done`` or ``2 done, 1 diverged``."""
    order = ("done", "diverged", "failed", "running")
    return ", ".join(f"{statuses[s]} {s}" for s in order if statuses.get(s))
