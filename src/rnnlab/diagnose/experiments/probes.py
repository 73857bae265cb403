"""The probes: what one claims run measures, chosen by ``config.train["probe"]``.

- ``train``: train a task model (Trainer, fixed step budget, validation every
  ``eval_every`` steps) recording the per-step gradient norm; metrics: the task metrics on
  the test set, steps and seconds to the validation target, explosion events, gradient
  decay rate at initialization and after training;
- ``horizon``: memory horizon by bisection over the lengths of the budget, each length a
  ``train`` run judged by the solved threshold (MSE ≤ 0.01 / recall accuracy ≥ 0.99);
- ``cost``: exact parameters and analytic FLOPs per step of one cell and hidden size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rnnlab.compare.units import RunConfig, RunResult
from rnnlab.data.containers import Batch
from rnnlab.diagnose.cost import check_param_count
from rnnlab.diagnose.experiments.tasks import TASK_METRICS, build_model, build_task
from rnnlab.diagnose.explosions import explosion_events
from rnnlab.diagnose.gradients import decay_rate, gradient_flow
from rnnlab.diagnose.horizon import bisect_horizon
from rnnlab.errors import UserInputError
from rnnlab.models import SequenceTagger
from rnnlab.nn import CELLS
from rnnlab.train.config import TrainConfig
from rnnlab.train.seeding import seed_everything
from rnnlab.train.trainer import StepInfo, Trainer


def _last_step_loss(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    """Cross-entropy of the last step only: for taggers, a loss at the end of the sequence."""
    return F.cross_entropy(model(batch.x, batch.lengths)[:, -1], batch.y[:, -1])


def _gradient_decay(model: torch.nn.Module, batch: Batch) -> float:
    """Per-step decay rate of ‖∂L/∂h_t‖ with the loss at the end of the sequence.

    Regressors already have their loss there; taggers (copy memory) score every step, which
    would feed gradient into every h_t directly, so only their last step's loss is used.
    Models without a unidirectional recurrent state give nan.
    """
    encoder = getattr(model, "encoder", None)
    if encoder is None or not encoder.recurrent or encoder.num_directions != 1:
        return float("nan")
    loss_fn = _last_step_loss if isinstance(model, SequenceTagger) else None
    return decay_rate(gradient_flow(model, batch, loss_fn=loss_fn))


def train_probe(config: RunConfig, seed: int, length: int | None = None) -> RunResult:
    """Train one model on one synthetic task; see the module docstring for the metrics."""
    settings = config.train
    options = config.task_options
    task = build_task(
        config.task, length or options["length"], options["options"], seed, settings["val_size"]
    )
    metric, higher, _ = TASK_METRICS[config.task]
    seed_everything(seed)
    model = build_model(task, config.model, config.hidden_size, settings["encoder_options"])
    validation = task.validation_set()
    probe = validation.select(slice(64))
    decay_init = _gradient_decay(model, probe)
    norms: list[float] = []

    def record(info: StepInfo) -> None:
        norms.append(info.grad_norm)

    every = settings["eval_every"]
    train_config = TrainConfig(
        epochs=max(1, settings["steps"] // every),
        steps_per_epoch=every,
        lr=settings["lr"],
        clip_norm=settings["clip_norm"],
        monitor=metric,
        mode="max" if higher else "min",
        seed=seed,
        device="cpu",
        progress=False,
        restore_best=False,
        # The CPU kernels these small models use are deterministic already; switching torch's
        # deterministic mode on costs an import of torch._inductor (seconds) per process.
        deterministic=False,
    )
    batch_size = settings["batch_size"]
    result = Trainer(model, train_config, on_step=record).fit(
        lambda epoch, generator: (task.batch(batch_size, generator) for _ in range(every)),
        lambda: [validation],
    )
    # Steps and seconds until the validation metric first meets the target; a run that never
    # meets it is charged its whole budget (censored), so it cannot look fast by failing.
    target = settings["target"]
    steps_to_target, seconds_to_target, reached, elapsed = result.total_steps, 0.0, False, 0.0
    cpu_elapsed = 0.0  # CPU seconds: unlike wall time, hardly changed by runs sharing the cores
    for epoch in result.history:
        elapsed += epoch.seconds
        cpu_elapsed += epoch.cpu_seconds
        value = epoch.val_metrics.get(metric, math.nan)
        if value >= target if higher else value <= target:
            steps_to_target, reached = (epoch.epoch + 1) * every, True
            break
    seconds_to_target = elapsed
    explosions = explosion_events(np.asarray(norms, dtype=float))
    metrics: dict[str, Any] = {
        f"val_{metric}": result.final_val_metrics.get(metric, math.nan),
        "best_val": result.best_metric if result.best_metric is not None else math.nan,
        "steps_to_target": float(steps_to_target),
        "seconds_to_target": seconds_to_target,
        "reached_target": float(reached),
        "explosion_events": float(explosions.events),
        "explosion_score": float(explosions.events + explosions.diverged),
        "grad_norm_median": explosions.median,
        "grad_norm_max": explosions.max,
        "decay_init": decay_init,
        "train_seconds": result.wall_time_s,
        "cpu_seconds_to_target": cpu_elapsed,
        "train_cpu_seconds": sum(r.cpu_seconds for r in result.history),
    }
    if result.status == "done":
        metrics.update({k: float(v) for k, v in model.metrics(task.test_set()).items()})
        metrics["decay_final"] = _gradient_decay(model, probe)
    curves = {
        "step": [(r.epoch + 1) * every for r in result.history],
        f"val_{metric}": [r.val_metrics.get(metric, math.nan) for r in result.history],
        "grad_norm": [float(n) for n in norms],
    }
    error = None
    if result.status == "diverged":
        error = f"diverged at step {result.diverged_at_step}"
    return RunResult(status=result.status, metrics=metrics, curves=curves, error=error)


def horizon_probe(
    config: RunConfig, seed: int, on_length: Callable[[int, float, bool], None] | None = None
) -> RunResult:
    """Memory horizon of one model: bisection over ``task_options["lengths"]``;
    ``on_length(length, best_val, solved)`` is told each training's outcome as it ends."""
    metric, higher, solved_at = TASK_METRICS[config.task]
    tried: dict[int, float] = {}

    def solves(length: int) -> bool:
        result = train_probe(config, seed, length=length)
        value = result.metrics.get("best_val", math.nan) if result.status == "done" else math.nan
        tried[length] = value
        solved = math.isfinite(value) and (value >= solved_at if higher else value <= solved_at)
        if on_length is not None:
            on_length(length, value, solved)
        return solved

    horizon = bisect_horizon(solves, config.task_options["lengths"])
    return RunResult(
        status="done",
        metrics={"horizon": float(horizon), "trainings": float(len(tried))},
        curves={"length": list(tried), f"best_val_{metric}": list(tried.values())},
    )


def memory_horizon(
    task: str,
    arm: str,
    lengths: Sequence[int],
    *,
    hidden_size: int,
    steps: int = 300,
    lr: float = 1e-2,
    batch_size: int = 32,
    clip_norm: float | None = 1.0,
    seed: int = 0,
    task_options: dict[str, Any] | None = None,
    encoder_options: dict[str, Any] | None = None,
    val_size: int = 256,
    on_length: Callable[[int, float, bool], None] | None = None,
) -> tuple[int, dict[int, float]]:
    """Longest of ``lengths`` that ``arm`` solves on ``task`` within ``steps`` training steps.

    Solved: best validation MSE ≤ 0.01 (adding) or recall accuracy ≥ 0.99 (copy). Returns
    the horizon (0 when even the shortest length is not solved) and the best validation
    metric at every length tried. ``on_length(length, best_val, solved)`` is told each
    training's outcome as it ends (at most :func:`rnnlab.diagnose.horizon.most_trainings`).
    """
    if task not in TASK_METRICS:
        raise UserInputError(
            f"memory horizon is defined for {', '.join(TASK_METRICS)}, not {task!r}"
        )
    if encoder_options is None:
        encoder_options = {"forget_bias": 1.0} if arm in ("lstm", "bilstm") else {}
    config = RunConfig(
        task=task,
        model=arm,
        hidden_size=hidden_size,
        task_options={"options": task_options or {}, "lengths": list(lengths)},
        train={
            "probe": "horizon",
            "steps": steps,
            "eval_every": max(1, steps // 5),
            "batch_size": batch_size,
            "lr": lr,
            "clip_norm": clip_norm,
            "val_size": val_size,
            "target": TASK_METRICS[task][2],
            "encoder_options": encoder_options,
        },
    )
    result = horizon_probe(config, seed, on_length)
    lengths_tried = result.curves["length"]
    values = result.curves[f"best_val_{TASK_METRICS[task][0]}"]
    return int(result.metrics["horizon"]), dict(zip(lengths_tried, values, strict=True))


def cost_probe(config: RunConfig, seed: int) -> RunResult:
    """Exact parameters (checked on the built module) and analytic FLOPs per step of one cell.

    No time: claim 4's speed is measured apart (:mod:`rnnlab.diagnose.claim_speed`)."""
    cell, hidden, inputs = config.model, config.hidden_size, config.train["input_size"]
    return RunResult(
        status="done",
        metrics={
            "params": float(check_param_count(cell, inputs, hidden)),
            "flops_per_step": float(CELLS[cell].flops_per_step(inputs, hidden)),
        },
    )


PROBES: dict[str, Callable[[RunConfig, int], RunResult]] = {
    "train": train_probe,
    "horizon": horizon_probe,
    "cost": cost_probe,
}


def run_probe(config: RunConfig, seed: int, checkpoint_dir: Path | None = None) -> RunResult:
    """The run function given to :func:`rnnlab.compare.executor.execute` for claims runs.

    Probes are short, so they keep no checkpoint: a run killed midway starts over (and,
    being seeded, ends with the same result). Configs without a probe are comparison runs
    and go to :func:`rnnlab.compare.runner.run_one` (which resumes from ``checkpoint_dir``).
    """
    probe = config.train.get("probe")
    if probe is None:  # an ordinary comparison run (real-dataset tasks)
        from rnnlab.compare.runner import run_one

        return run_one(config, seed, checkpoint_dir)
    if probe not in PROBES:
        raise ValueError(f"unknown probe {probe!r}; expected one of {', '.join(PROBES)}")
    return PROBES[probe](config, seed)
