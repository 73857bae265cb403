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

from rnnlab.compare.intervals import range_ci
from rnnlab.compare.margins import Margin, default_margin
from rnnlab.compare.stats import GroupVerdict, Summary, adjust_table, compare_groups
from rnnlab.compare.store import RunRow
from rnnlab.compare.tasks import LENGTH_TASKS, TASKS

MIN_SEEDS = 3
"""Fewer seeds per model than this are flagged: a test on them can hardly be significant."""

SIZE_KNOBS = ("train_size", "eval_size", "limit", "sha256", "loader")
"""Options that only size (or pin) a task; shown in the setup line, not in the group's title."""


@dataclass
class ModelSummary:
    """Final runs of one model in one comparison."""

    model: str
    values: list[float]
    """Test metric of each finished run, in seed order (see ``seeds``)."""
    summary: Summary
    """Mean with a 95 % interval inside the metric's range (:mod:`rnnlab.compare.intervals`)."""
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
    cpu_time_per_epoch_s: float = math.nan
    """CPU seconds per epoch (median over runs): unlike wall time it hardly depends on how many
    runs shared the machine; NaN for runs recorded before it was."""
    seeds: list[int] = field(default_factory=list)
    still_improving: int = 0
    """Finished runs whose validation metric was still at its best on the last epoch."""
    load_per_core: float = math.nan
    """Highest 1-minute load average per core seen at the end of a run (nan: not recorded);
    above 1, other processes competed for the cores and its timings are unreliable."""


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
    machines: list[str] = field(default_factory=list)
    """Kinds of machine (GPU or CPU model) the final runs ran on; more than one makes the cost
    figures (time, memory) hard to compare."""
    margin: Margin | None = None
    """The equivalence margin the verdict used (the metric's default when None)."""

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


def machine_kind(row: RunRow) -> str | None:
    """The GPU model a run trained on, else its CPU model (None for rows from before rnnlab
    recorded them)."""
    on_gpu = str(row.cost.get("device", "")).startswith("cuda")
    return row.versions.get("gpu") if on_gpu else row.versions.get("cpu")


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
            _model_summary(model, runs, metric, tunes.get((key, model), 0), higher)
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
                sorted({kind for row in group_rows if (kind := machine_kind(row))}),
                margin or default_margin(metric),
            )
        )
    for group, verdict in zip(groups, adjust_table([g.verdict for g in groups]), strict=True):
        group.verdict = verdict
    return groups


def _still_improving(curve: list[float], higher_is_better: bool) -> bool:
    """True when the last of two or more epochs is (one of) the best: not converged yet."""
    finite = [v for v in curve if v is not None and math.isfinite(v)]
    if len(finite) < 2 or not math.isfinite(curve[-1]):
        return False
    best = max(finite) if higher_is_better else min(finite)
    return curve[-1] == best and finite[0] != best


def _model_summary(
    model: str, runs: list[RunRow], metric: str, trials: int, higher: bool = False
) -> ModelSummary:
    runs = sorted(runs, key=lambda r: r.seed)
    done = [r for r in runs if r.status == "done" and f"test_{metric}" in r.metrics]
    values = [float(r.metrics[f"test_{metric}"]) for r in done]
    statuses: dict[str, int] = {}
    for run in runs:
        statuses[run.status] = statuses.get(run.status, 0) + 1
    costs = [r.cost for r in runs if r.cost]
    first = runs[0].config
    return ModelSummary(
        model=model,
        values=values,
        summary=range_ci(values, metric),
        statuses=statuses,
        params=costs[0].get("params") if costs else None,
        hidden_size=first.get("hidden_size", 0),
        num_layers=first.get("num_layers", 1),
        lr=first.get("train", {}).get("lr"),
        tune_trials=trials,
        time_per_epoch_s=_median([c.get("time_per_epoch_s", math.nan) for c in costs]),
        cpu_time_per_epoch_s=_median([c.get("cpu_time_per_epoch_s", math.nan) for c in costs]),
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
        seeds=[r.seed for r in done],
        still_improving=sum(
            _still_improving(r.curves.get(f"val_{metric}", []), higher) for r in done if r.curves
        ),
        load_per_core=max(
            (
                c["load_average"] / c["cpus"]
                for c in costs
                if c.get("load_average") and c.get("cpus")
            ),
            default=math.nan,
        ),
    )


def format_value(value: float | None, digits: int = 4) -> str:
    """``digits`` significant digits: ``0.0123``, ``1,941``, scientific below 1e-3 and from
    1e6; ``–`` for None or nan. A minus is the true minus sign (``−0.42``)."""
    if value is None or not math.isfinite(value):
        return "–"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
        text = f"{value:.{digits - 1}e}"
    elif abs(value) >= 10 ** (digits - 1):
        text = f"{float(f'{value:.{digits}g}'):,.0f}"  # rounded, with thousands separators
    else:
        text = f"{value:.{digits}g}"
    return text.replace("-", "−")


def format_summary(summary: Summary, digits: int = 3) -> str:
    """``mean [low, high]`` with ``digits`` significant digits (the interval need not be
    symmetric: it stays inside the metric's range); ``no finished runs`` when n = 0."""
    if summary.n == 0:
        return "no finished runs"
    if summary.n == 1 or summary.low == summary.high:
        return format_value(summary.mean, digits)
    low, high = format_value(summary.low, digits), format_value(summary.high, digits)
    return f"{format_value(summary.mean, digits)} [{low}, {high}]"


def model_flags(model: ModelSummary, short: bool = False) -> list[str]:
    """Warnings that belong next to a model's result: too few seeds, not converged.

    ``short``: table-cell labels (``not converged 3/3``); else whole sentences.
    """
    flags = []
    n = len(model.values)
    if 0 < n < MIN_SEEDS:
        flags.append(
            f"only {n} seed{'s' if n != 1 else ''}"
            + ("" if short else f": too few for a test to separate models ({MIN_SEEDS}+ needed)")
        )
    if model.still_improving:
        count = f"{model.still_improving}/{n}"
        flags.append(
            f"not converged {count}"
            if short
            else f"not converged: validation still improving at the last epoch on {count} seeds"
        )
    return flags


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
    """``3/3 seeds`` (finished of planned), then the others: ``2/3 seeds, 1 diverged``."""
    order = ("diverged", "failed", "running")
    total = sum(statuses.values())
    text = f"{statuses.get('done', 0)}/{total} seeds"
    return ", ".join([text, *(f"{statuses[s]} {s}" for s in order if statuses.get(s))])
