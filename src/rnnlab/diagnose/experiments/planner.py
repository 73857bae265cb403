"""What every claim's planner shares: the :class:`Planner` that collects arms, and the
run configs it builds (synthetic-task training, real-dataset comparison, equal-parameter
sizes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rnnlab.compare.units import RunConfig
from rnnlab.diagnose.cost import check_param_count
from rnnlab.diagnose.experiments.arms import ClaimArm
from rnnlab.diagnose.experiments.budgets import Budget
from rnnlab.diagnose.experiments.tasks import build_task, matched_hidden_size


def synthetic_options(task: str, budget: Budget) -> dict[str, Any]:
    """Options of the synthetic ``task`` at ``budget`` (copy: its memory and encoding)."""
    if task == "copy":
        return {"memory": budget.copy_memory, "encoding": "one-hot"}
    return {}


@dataclass
class Planner:
    """Collects the arms and notes of a plan; sizes synthetic-task runs for a budget."""

    budget: Budget
    arms: list[ClaimArm] = field(default_factory=list)
    notes: dict[int, list[str]] = field(default_factory=dict)
    _hidden: dict[tuple, int] = field(default_factory=dict)

    def hidden(self, task: str, length: int, arm: str, options: dict[str, Any]) -> int:
        """Hidden size of ``arm`` matched to the budget's parameters (cached per task, length,
        arm and encoder options)."""
        key = (task, length, arm, tuple(sorted(options.items())))
        if key not in self._hidden:
            built = build_task(task, length, synthetic_options(task, self.budget), 0, 1)
            self._hidden[key] = matched_hidden_size(built, arm, self.budget.params, options)
        return self._hidden[key]

    def train_config(
        self,
        task: str,
        arm: str,
        *,
        length: int | None = None,
        lr: float | None = None,
        clip_norm: float | str | None = "default",
        options: dict[str, Any] | None = None,
        hidden_size: int | None = None,
        probe: str = "train",
        lengths: Sequence[int] = (),
    ) -> RunConfig:
        """The run config of a ``train`` (or ``horizon``, over ``lengths``) probe of ``arm``
        on a synthetic task, sized by the budget unless ``hidden_size`` is given. LSTM forms
        get the task models' default forget bias (1.0) unless ``options`` says otherwise."""
        b = self.budget
        length = length or b.length(task)
        if options is None:  # explicit, so the run config records it
            options = {"forget_bias": 1.0} if arm in ("lstm", "bilstm") else {}
        hidden = hidden_size or self.hidden(task, length, arm, options)
        task_options: dict[str, Any] = {"options": synthetic_options(task, b)}
        if probe == "horizon":
            task_options["lengths"] = list(lengths)
        else:
            task_options["length"] = length
        return RunConfig(
            task=task,
            model=arm,
            hidden_size=hidden,
            task_options=task_options,
            train={
                "probe": probe,
                "steps": b.steps,
                "eval_every": b.eval_every,
                "batch_size": b.batch_size,
                "lr": lr or b.lr,
                "clip_norm": b.clip_norm if clip_norm == "default" else clip_norm,
                "val_size": b.val_size,
                "target": b.targets[task],
                "encoder_options": options,
            },
            budget=b.params,
        )

    def add(
        self, claim: int, split: str, arm: str, config: RunConfig, metric: str, hib: bool
    ) -> None:
        """Add one arm: ``metric`` of ``config``'s runs, ``hib`` = higher is better."""
        self.arms.append(ClaimArm(claim, split, arm, config, metric, hib))


def compare_arms(
    task: str, models: Sequence[str], budget: Budget
) -> list[tuple[str, RunConfig, str, bool]]:
    """Compare-runner configs for a real-dataset task, parameter-matched like ``compare``."""
    from rnnlab.compare.plan import Comparison, matched_hidden_sizes
    from rnnlab.compare.tasks import get_task

    spec = get_task(task)
    options = budget.dataset_options.get(task, {})
    comparison = Comparison(task, list(models), options, budget=budget.dataset_params[task])
    sizes = matched_hidden_sizes(comparison)
    return [
        (
            model,
            RunConfig(
                task=task,
                model=model,
                hidden_size=sizes[model][0],
                task_options=dict(options),
                train=dict(budget.dataset_train),
                budget=budget.dataset_params[task],
            ),
            f"test_{spec.metric}",
            spec.higher_is_better,
        )
        for model in models
    ]


def equal_params_hidden(cell: str, reference: str, input_size: int, hidden: int) -> int:
    """Hidden size of ``cell`` whose parameter count is closest to ``reference`` at ``hidden``."""
    target = check_param_count(reference, input_size, hidden)
    sizes = range(1, 4 * hidden)
    return min(sizes, key=lambda h: abs(check_param_count(cell, input_size, h) - target))
