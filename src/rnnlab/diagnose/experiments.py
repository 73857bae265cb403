"""The claims' experiments, declared per budget, and the probes that run them.

Every claim is a list of :class:`ClaimArm` — (split, arm, run config, metric to read) — built
by :func:`plan` for a :class:`Budget`. The runs are ordinary :class:`rnnlab.compare.units.RunUnit`
executed by :func:`rnnlab.compare.executor.execute` into a results store, so a claims run
shares the compare machinery: killed and re-run, it skips finished runs; identical runs that
several claims need (LSTM on adding, for instance) are trained once.

A run's ``config.train["probe"]`` says what it measures:

- ``train``: train a task model (Trainer, fixed step budget, validation every
  ``eval_every`` steps) recording the per-step gradient norm; metrics: the task metrics on
  the test set, steps and seconds to the validation target, explosion events, gradient
  decay rate at initialization and after training;
- ``horizon``: memory horizon by bisection over the lengths of the budget, each length a
  ``train`` run judged by the solved threshold (MSE ≤ 0.01 / recall accuracy ≥ 0.99);
- ``cost``: exact parameters, analytic FLOPs per step and measured time per step of one
  cell, hidden size and engine (one timing sample per seed).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from rnnlab.compare.units import RunConfig, RunResult, RunUnit
from rnnlab.data.containers import Batch
from rnnlab.data.synthetic import make_task
from rnnlab.diagnose.cost import check_param_count, supported_engines, time_per_step
from rnnlab.diagnose.explosions import explosion_events
from rnnlab.diagnose.gradients import decay_rate, gradient_flow
from rnnlab.diagnose.horizon import bisect_horizon
from rnnlab.errors import UserInputError
from rnnlab.models import SequenceRegressor, SequenceTagger, match_hidden_size
from rnnlab.nn import CELLS, make_rnn
from rnnlab.train.config import TrainConfig
from rnnlab.train.seeding import seed_everything
from rnnlab.train.trainer import StepInfo, Trainer

#: Arm label -> encoder name of :func:`rnnlab.models.make_encoder`.
ENCODERS = {"lstm": "lstm", "gru": "gru", "rnn": "rnn-tanh", "tcn": "tcn", "bilstm": "bilstm"}
#: Per task: the metric reported, whether higher is better, and the "solved" threshold.
TASK_METRICS = {"adding": ("mse", False, 0.01), "copy": ("recall_accuracy", True, 0.99)}
TCN_KERNEL = 3


@dataclass(frozen=True)
class Budget:
    """Sizes of one claims run (``quick``: minutes on 2 CPU cores; ``standard``: hours)."""

    name: str
    seeds: int
    params: int  # parameter budget every matched model is sized to
    steps: int  # training steps of a ``train`` run
    eval_every: int  # steps between validations (resolution of steps-to-target)
    batch_size: int
    lr: float
    clip_norm: float
    val_size: int
    adding_length: int
    copy_length: int
    copy_memory: int
    targets: dict[str, float]  # validation target of claim 5, per task
    horizon_lengths: dict[str, tuple[int, ...]]
    explosion_lrs: tuple[float, ...]
    cost_hidden: int
    cost_length: int
    cost_repeats: int
    cost_engines: tuple[str, ...]
    claim7_tasks: tuple[tuple[str, str], ...]  # (kind, task) pairs of claim 7
    dataset_params: dict[str, int]  # parameter budget per real-dataset task
    dataset_options: dict[str, dict[str, Any]]
    dataset_train: dict[str, Any]


BUDGETS: dict[str, Budget] = {
    "quick": Budget(
        name="quick",
        seeds=3,
        params=1500,
        steps=240,
        eval_every=40,
        batch_size=32,
        lr=1e-2,
        clip_norm=1.0,
        val_size=256,
        adding_length=12,
        copy_length=5,
        copy_memory=3,
        targets={"adding": 0.05, "copy": 0.5},
        horizon_lengths={"adding": (4, 8, 16, 32), "copy": (2, 4, 8, 16)},
        explosion_lrs=(0.05, 0.3),
        cost_hidden=64,
        cost_length=30,
        cost_repeats=3,
        cost_engines=("native", "loop"),
        claim7_tasks=(
            ("fixed-length", "mnist-rows"),
            ("variable-length", "japanese-vowels"),
            ("variable-length", "spoken-digits"),
            ("generation", "shakespeare"),
        ),
        dataset_params={
            "mnist-rows": 5000,
            "japanese-vowels": 5000,
            "spoken-digits": 5000,
            "shakespeare": 10_000,
        },
        dataset_options={
            "mnist-rows": {"limit": 600},
            "japanese-vowels": {},
            "spoken-digits": {"limit": 600},
            "shakespeare": {"limit": 20_000, "seq_len": 50},
        },
        dataset_train={"epochs": 3},
    ),
    "standard": Budget(
        name="standard",
        seeds=5,
        params=10_000,
        steps=4000,
        eval_every=200,
        batch_size=64,
        lr=3e-3,
        clip_norm=1.0,
        val_size=1000,
        adding_length=100,
        copy_length=50,
        copy_memory=10,
        targets={"adding": 0.05, "copy": 0.5},
        horizon_lengths={"adding": (25, 50, 100, 200, 400), "copy": (10, 25, 50, 100, 200)},
        explosion_lrs=(0.01, 0.03, 0.1),
        cost_hidden=128,
        cost_length=100,
        cost_repeats=10,
        cost_engines=("native", "loop", "reference"),
        claim7_tasks=(
            ("fixed-length", "mnist-rows"),
            ("variable-length", "japanese-vowels"),
            ("variable-length", "spoken-digits"),
            ("generation", "shakespeare"),
        ),
        dataset_params={
            "mnist-rows": 20_000,
            "japanese-vowels": 20_000,
            "spoken-digits": 20_000,
            "shakespeare": 50_000,
        },
        dataset_options={},
        dataset_train={"epochs": 20, "patience": 5},
    ),
}


@dataclass(frozen=True)
class ClaimArm:
    """One arm of one split of a claim: the run config and the metric the claim reads."""

    claim: int
    split: str
    arm: str
    config: RunConfig
    metric: str
    higher_is_better: bool


# -- tasks and models -----------------------------------------------------------------------
def _task_options(task: str, budget: Budget) -> dict[str, Any]:
    if task == "copy":
        return {"memory": budget.copy_memory, "encoding": "one-hot"}
    return {}


def build_task(task: str, length: int, options: dict[str, Any], seed: int, val_size: int):
    """The synthetic task of a run (validation and test sets of ``val_size`` sequences)."""
    return make_task(task, length, seed=seed, val_size=val_size, test_size=val_size, **options)


def _sequence_length(task) -> int:
    return task.length + 2 * task.memory if task.name == "copy" else task.length


def _encoder_options(arm: str, options: dict[str, Any], sequence_length: int) -> dict[str, Any]:
    if ENCODERS[arm] != "tcn":
        return dict(options)
    # enough levels for the receptive field 1 + 2 (k - 1)(2^L - 1) to span the sequence
    levels = math.ceil(math.log2((sequence_length - 1) / (2 * (TCN_KERNEL - 1)) + 1))
    return {"kernel_size": TCN_KERNEL, "num_layers": max(1, levels), **options}


def build_model(task, arm: str, hidden_size: int, options: dict[str, Any]) -> torch.nn.Module:
    """The task model for ``arm`` (a key of :data:`ENCODERS`) at ``hidden_size``."""
    opts = _encoder_options(arm, options, _sequence_length(task))
    num_layers = opts.pop("num_layers", 1)
    common = {
        "encoder": ENCODERS[arm],
        "input_size": task.input_size,
        "hidden_size": hidden_size,
        "num_layers": num_layers,
        "encoder_options": opts,
    }
    if task.kind == "regression":
        return SequenceRegressor(**common)
    if task.kind == "tagging":
        return SequenceTagger(num_classes=task.num_classes, recall_steps=task.memory, **common)
    raise UserInputError(f"claims experiments support adding and copy, not {task.name!r}")


def matched_hidden_size(task, arm: str, params: int, options: dict[str, Any]) -> int:
    """Hidden size whose model lands closest to ``params`` (rnnlab.models' matching).

    Within 3 % where some hidden size gets there; tiny budgets, where one unit more changes
    the count by more than that, accept the closest size within 15 %.
    """

    def build(hidden: int) -> torch.nn.Module:
        return build_model(task, arm, hidden, options)

    try:
        hidden, _ = match_hidden_size(build, params)
    except UserInputError:
        hidden, _ = match_hidden_size(build, params, tolerance=0.15)
    return hidden


# -- probes ---------------------------------------------------------------------------------
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


def horizon_probe(config: RunConfig, seed: int) -> RunResult:
    """Memory horizon of one model: bisection over ``task_options["lengths"]``."""
    metric, higher, solved_at = TASK_METRICS[config.task]
    tried: dict[int, float] = {}

    def solves(length: int) -> bool:
        result = train_probe(config, seed, length=length)
        value = result.metrics.get("best_val", math.nan) if result.status == "done" else math.nan
        tried[length] = value
        return math.isfinite(value) and (value >= solved_at if higher else value <= solved_at)

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
) -> tuple[int, dict[int, float]]:
    """Longest of ``lengths`` that ``arm`` solves on ``task`` within ``steps`` training steps.

    Solved: best validation MSE ≤ 0.01 (adding) or recall accuracy ≥ 0.99 (copy). Returns
    the horizon (0 when even the shortest length is not solved) and the best validation
    metric at every length tried.
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
    result = horizon_probe(config, seed)
    lengths_tried = result.curves["length"]
    values = result.curves[f"best_val_{TASK_METRICS[task][0]}"]
    return int(result.metrics["horizon"]), dict(zip(lengths_tried, values, strict=True))


def cost_probe(config: RunConfig, seed: int) -> RunResult:
    """Parameters, FLOPs per step and time per step (median of the repeats) of one cell."""
    settings = config.train
    cell, hidden, inputs = config.model, config.hidden_size, settings["input_size"]
    params = check_param_count(cell, inputs, hidden)
    rnn = make_rnn(cell, inputs, hidden, engine=settings["engine"])
    seconds = time_per_step(
        rnn,
        inputs,
        length=settings["length"],
        batch_size=settings["batch_size"],
        repeats=settings["repeats"],
        seed=seed,
    )
    return RunResult(
        status="done",
        metrics={
            "params": float(params),
            "flops_per_step": float(CELLS[cell].flops_per_step(inputs, hidden)),
            "us_per_step": float(np.median(seconds) * 1e6),
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


# -- plans ----------------------------------------------------------------------------------
@dataclass
class _Planner:
    budget: Budget
    arms: list[ClaimArm] = field(default_factory=list)
    notes: dict[int, list[str]] = field(default_factory=dict)
    _hidden: dict[tuple, int] = field(default_factory=dict)

    def hidden(self, task: str, length: int, arm: str, options: dict[str, Any]) -> int:
        key = (task, length, arm, tuple(sorted(options.items())))
        if key not in self._hidden:
            built = build_task(task, length, _task_options(task, self.budget), 0, 1)
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
        b = self.budget
        length = length or {"adding": b.adding_length, "copy": b.copy_length}[task]
        if options is None:  # LSTM forms get the task models' default forget bias, explicitly
            options = {"forget_bias": 1.0} if arm in ("lstm", "bilstm") else {}
        hidden = hidden_size or self.hidden(task, length, arm, options)
        task_options: dict[str, Any] = {"options": _task_options(task, b)}
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

    def add(self, claim: int, split: str, arm: str, config: RunConfig, metric: str, hib: bool):
        self.arms.append(ClaimArm(claim, split, arm, config, metric, hib))


def plan(budget: Budget) -> tuple[list[ClaimArm], dict[int, list[str]]]:
    """Every claim's arms for ``budget`` (runs shared between claims have equal configs),
    and per claim the notes on parts that could not be planned (e.g. a missing dataset)."""
    p = _Planner(budget)
    b = budget
    fixed = {"adding": b.adding_length, "copy": b.copy_length}

    def label(task: str) -> str:
        return f"{task} T={fixed[task]}"

    # 1. gating vs vanishing gradients
    for task in ("adding", "copy"):
        for arm in ("lstm", "gru", "rnn"):
            config = p.train_config(task, arm)
            for when, metric in (("at init", "decay_init"), ("after training", "decay_final")):
                p.add(1, f"gradient decay {when}, {label(task)}", arm, config, metric, True)
    for arm in ("lstm", "gru", "rnn"):
        config = p.train_config("adding", arm, probe="horizon", lengths=b.horizon_lengths["adding"])
        p.add(1, "memory horizon, adding", arm, config, "horizon", True)
    # 2. explosions without clipping
    for lr in b.explosion_lrs:
        for arm in ("lstm", "gru"):
            config = p.train_config("adding", arm, lr=lr, clip_norm=None)
            p.add(2, f"{label('adding')}, lr={lr:g}, no clipping", arm, config,
                  "explosion_score", False)  # fmt: skip
    # 3. LSTM vs GRU memory
    for task in ("adding", "copy"):
        for arm in ("lstm", "gru"):
            horizon = p.train_config(task, arm, probe="horizon", lengths=b.horizon_lengths[task])
            p.add(3, f"memory horizon, {task}", arm, horizon, "horizon", True)
            metric, higher, _ = TASK_METRICS[task]
            p.add(3, f"{metric}, {label(task)}", arm, p.train_config(task, arm), metric, higher)
    # 4. cost, at equal hidden size and at equal parameters
    cost_inputs = 16
    for setting in ("equal hidden size", "equal parameters"):
        for arm in ("lstm", "gru"):
            hidden = b.cost_hidden
            if setting == "equal parameters" and arm == "gru":
                hidden = _equal_params_hidden("gru", "lstm", cost_inputs, b.cost_hidden)
            for engine in b.cost_engines:
                if engine not in supported_engines(arm):
                    continue
                config = RunConfig(
                    task="cost",
                    model=arm,
                    hidden_size=hidden,
                    train={
                        "probe": "cost",
                        "engine": engine,
                        "input_size": cost_inputs,
                        "length": b.cost_length,
                        "batch_size": b.batch_size,
                        "repeats": b.cost_repeats,
                    },
                )
                p.add(4, f"time per step, {engine} engine, {setting}", arm, config,
                      "us_per_step", False)  # fmt: skip
                if engine == b.cost_engines[0]:
                    if setting == "equal hidden size":
                        p.add(4, f"parameters, {setting}", arm, config, "params", False)
                    p.add(4, f"FLOPs per step, {setting}", arm, config, "flops_per_step", False)
    # 5. convergence speed
    for task in ("adding", "copy"):
        for arm in ("lstm", "gru"):
            config = p.train_config(task, arm)
            p.add(5, f"steps to target, {label(task)}", arm, config, "steps_to_target", False)
            p.add(5, f"seconds to target, {label(task)}", arm, config, "seconds_to_target", False)
    # 6. bidirectional vs unidirectional LSTM
    splits6 = {
        "adding": "whole sequence seen before the answer",
        "copy": "answer lies only in the past",
    }
    for task, why in splits6.items():
        metric, higher, _ = TASK_METRICS[task]
        for arm in ("bilstm", "lstm"):
            p.add(6, f"{label(task)} ({why})", arm, p.train_config(task, arm), metric, higher)
    # 7. real datasets, trained by the compare runner (run_one) exactly as `rnnlab compare`
    for kind, task in b.claim7_tasks:
        try:
            arms7 = _compare_arms(task, ("lstm", "gru"), b)
        except Exception as err:  # a dataset that cannot be loaded here: say so, run the rest
            p.notes.setdefault(7, []).append(f"{task} not run ({err})")
            continue
        for arm, config, metric, higher in arms7:
            p.add(7, f"{kind} {task}", arm, config, metric, higher)
    # 8. forget-gate bias
    for task in ("adding", "copy"):
        metric, higher, _ = TASK_METRICS[task]
        hidden = p.hidden(task, fixed[task], "lstm", {"forget_bias": 1.0})
        for bias in (1.0, 0.0):
            config = p.train_config(task, "lstm", options={"forget_bias": bias}, hidden_size=hidden)
            p.add(8, label(task), f"forget_bias={bias:g}", config, metric, higher)
    # 9. TCN vs RNNs
    for task in ("adding", "copy"):
        metric, higher, _ = TASK_METRICS[task]
        for arm in ("tcn", "lstm", "gru"):
            p.add(9, label(task), arm, p.train_config(task, arm), metric, higher)
    return p.arms, p.notes


def _compare_arms(
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


def _equal_params_hidden(cell: str, reference: str, input_size: int, hidden: int) -> int:
    """Hidden size of ``cell`` whose parameter count is closest to ``reference`` at ``hidden``."""
    target = check_param_count(reference, input_size, hidden)
    sizes = range(1, 4 * hidden)
    return min(sizes, key=lambda h: abs(check_param_count(cell, input_size, h) - target))


def units(arms: Sequence[ClaimArm], seeds: int) -> list[RunUnit]:
    """The distinct run units of ``arms`` (each config once per seed), in plan order."""
    seen: dict[str, RunUnit] = {}
    for arm in arms:
        for seed in range(seeds):
            unit = RunUnit(arm.config, seed, "final")
            seen.setdefault(unit.key, unit)
    return list(seen.values())


def claims_table(arms: Sequence[ClaimArm], seeds: int, rows_by_key: dict[str, Any]) -> pd.DataFrame:
    """The claims table (see :mod:`rnnlab.diagnose.claims`) from stored rows keyed by run key.

    A run missing from the store (never ran) has status ``missing``.
    """
    records = []
    for arm in arms:
        for seed in range(seeds):
            row = rows_by_key.get(RunUnit(arm.config, seed, "final").key)
            metrics = row.metrics if row is not None else {}
            value = metrics.get(arm.metric, math.nan)
            records.append(
                {
                    "claim": arm.claim,
                    "split": arm.split,
                    "arm": arm.arm,
                    "seed": seed,
                    "status": row.status if row is not None else "missing",
                    "value": math.nan if value is None else float(value),
                    "higher_is_better": arm.higher_is_better,
                    "metric": arm.metric,
                }
            )
    return pd.DataFrame(records)
