"""What a study will cost before it runs: the number of runs, CPU time and wall time.

Each distinct configuration (task, model, size, training settings; learning rates and seeds
do not change the cost of a step) trains a few steps with one torch thread and evaluates
one validation batch. Their *process CPU time* — which hardly grows when other programs
share the cores, unlike wall time — is scaled to the whole run: every epoch's steps and
validations (early stopping ignored, so an upper bound) and the test evaluation. The runs
are then dealt, in plan order, to W workers as the executor does (each takes the next run as
soon as it is free), which gives the wall time on an otherwise idle machine with W workers of
one thread. Nothing is written to any store.
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from rnnlab.compare.executor import parallelism
from rnnlab.compare.plan import Comparison, _config, prepare
from rnnlab.compare.tasks import get_task
from rnnlab.compare.units import RunConfig
from rnnlab.train import TrainConfig, Trainer, mean_metrics, seed_everything
from rnnlab.train.seeding import data_generator

SAMPLE_STEPS = 4
"""Timed training steps per configuration (after one untimed warm-up step); the fastest
counts, as the one least disturbed by other programs."""
WARMUP_STEPS = 1


@dataclass(frozen=True)
class StepCost:
    """CPU seconds of one training step and of one pass over the evaluation batches."""

    step_cpu_s: float
    eval_cpu_s: float


@dataclass(frozen=True)
class ConfigCost:
    """One configuration of a plan: its label, how many runs use it, and one run's cost."""

    label: str
    runs: int
    steps: int  # training steps of one run
    step_cpu_s: float
    run_cpu_s: float  # one run: its steps, validations, test and any probes


@dataclass
class Estimate:
    """The cost of a plan on this machine (see the module docstring for the model).

    ``durations`` are the CPU seconds of every run in plan order (the order the executor
    deals them out); ``load`` is the 1/5/15-minute load average while it was measured.
    """

    name: str
    configs: list[ConfigCost]
    durations: list[float]
    workers: int
    cores: int
    load: tuple[float, float, float]
    sample_steps: int = SAMPLE_STEPS

    @property
    def runs(self) -> int:
        """Number of runs of the plan."""
        return len(self.durations)

    @property
    def cpu_s(self) -> float:
        """Total CPU seconds of the plan (one thread per run)."""
        return sum(self.durations)

    @property
    def wall_s(self) -> float:
        """Wall seconds with ``workers`` one-thread workers on an otherwise idle machine
        (more workers than cores share them, so time stretches by workers / cores)."""
        return schedule(self.durations, self.workers) * max(1.0, self.workers / self.cores)

    def format(self) -> str:
        """A few lines for the terminal: totals, assumptions and the per-configuration table."""
        width = max([len("configuration"), *(len(c.label) for c in self.configs)])
        lines = [
            f"{self.name}: {self.runs} runs ({len(self.configs)} configurations); estimated "
            f"wall time {format_hours(self.wall_s)} with {self.workers} worker"
            f"{'s' if self.workers != 1 else ''} ({format_hours(self.cpu_s)} of CPU time).",
            f"Assumes an otherwise idle machine with {self.workers} workers of one torch thread "
            f"on {self.cores} cores. Measured from the process CPU time of the fastest of "
            f"{self.sample_steps} training steps per configuration (one thread) and of one "
            "validation batch, while "
            f"the load average was {self.load[0]:.1f} on {self.cores} cores; runs with early "
            "stopping are counted to their last epoch (an upper bound). Data loading and "
            "process start-up are not counted. Under heavy load CPU time inflates too: estimate "
            "on a quiet machine.",
            "",
            f"{'configuration':<{width}}  {'runs':>5}  {'steps/run':>9}  {'ms/step':>8}  "
            f"{'CPU min/run':>11}  {'CPU h total':>11}",
        ]
        for c in sorted(self.configs, key=lambda c: -c.run_cpu_s * c.runs):
            lines.append(
                f"{c.label:<{width}}  {c.runs:>5}  {c.steps:>9}  {c.step_cpu_s * 1e3:>8.1f}  "
                f"{c.run_cpu_s / 60:>11.1f}  {c.run_cpu_s * c.runs / 3600:>11.2f}"
            )
        return "\n".join(lines)


def format_hours(seconds: float) -> str:
    """``1.4 h``, ``25 min`` or ``40 s``."""
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def schedule(durations: Sequence[float], workers: int) -> float:
    """Makespan of ``durations`` dealt in order to ``workers``, each taking the next job as
    soon as it is free (how a process pool works through a submitted plan)."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    free_at = [0.0] * workers
    for duration in durations:
        heapq.heappush(free_at, heapq.heappop(free_at) + duration)
    return max(free_at)


def machine_load() -> tuple[float, float, float]:
    """The 1, 5 and 15-minute load averages (NaN where the platform has none)."""
    try:
        return os.getloadavg()
    except OSError:
        return (math.nan, math.nan, math.nan)


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the block with one torch thread, as each worker of a study does."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def time_training(
    model: nn.Module,
    config: TrainConfig,
    train_batches: Callable[[int, torch.Generator], Iterable[Any]],
    eval_batches: Sequence[Any],
    *,
    steps: int = SAMPLE_STEPS,
) -> StepCost:
    """Process CPU seconds of one training step of ``model`` (the fastest of ``steps`` steps
    after a warm-up step, trained by :class:`rnnlab.train.Trainer` with ``config``'s optimizer and
    clipping) and of one pass over ``eval_batches`` (timed on the first, scaled by count)."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    marks = [time.process_time()]
    config = replace(
        config,
        epochs=1,
        steps_per_epoch=steps + WARMUP_STEPS,
        patience=None,
        monitor="loss",  # no validation while timing steps
        mode="min",
        checkpoint_dir=None,
        progress=False,
        max_time_s=None,
    )
    # on_step runs once per step at the same point, so the gap between two calls is exactly
    # one step: the update, the next batch, its forward and backward passes and the clipping.
    trainer = Trainer(model, config, on_step=lambda info: marks.append(time.process_time()))
    trainer.fit(train_batches)
    gaps = [b - a for a, b in itertools.pairwise(marks)][WARMUP_STEPS:]
    if not gaps:  # diverged at once: charge what the first step took
        gaps = [time.process_time() - marks[0]]
    start = time.process_time()
    with torch.no_grad():
        model.eval()
        mean_metrics(model, eval_batches[:1], trainer.device, source="the evaluation batches")
    eval_cpu = (time.process_time() - start) * len(eval_batches)
    return StepCost(min(gaps), eval_cpu)


def run_cost(config: RunConfig, *, steps: int = SAMPLE_STEPS) -> ConfigCost:
    """The cost of one comparison run (:func:`rnnlab.compare.runner.run_one`) of ``config``."""
    from rnnlab.compare.runner import EVAL_BATCH_SIZE, build_model, train_config

    spec = get_task(config.task)
    data = spec.build(config.task_options)
    settings = {**spec.train, **config.train}
    batch_size = int(settings["batch_size"])
    trainer_config = train_config(config, 0, None)
    per_epoch = sum(1 for _ in data.train_batches(batch_size)(0, data_generator(0)))
    if trainer_config.steps_per_epoch is not None:
        per_epoch = min(per_epoch, trainer_config.steps_per_epoch)
    epochs = trainer_config.epochs
    val = data.eval_batches("val", EVAL_BATCH_SIZE)
    test = data.eval_batches("test", EVAL_BATCH_SIZE)
    with one_thread():
        seed_everything(0)
        model = build_model(config, data)
        cost = time_training(
            model, trainer_config, data.train_batches(batch_size), val, steps=steps
        )
    evaluations = epochs + len(test) / max(1, len(val))  # each epoch's validation, one test
    params = sum(p.numel() for p in model.parameters())
    options = _options_label(config.task_options)
    return ConfigCost(
        label=f"{config.task}{options} {config.model} ({params:,} params)",
        runs=1,
        steps=epochs * per_epoch,
        step_cpu_s=cost.step_cpu_s,
        run_cpu_s=epochs * per_epoch * cost.step_cpu_s + evaluations * cost.eval_cpu_s,
    )


def _options_label(options: dict[str, Any]) -> str:
    shown = {k: v for k, v in options.items() if k in ("length", "limit", "permute_seed")}
    shown = {k: v for k, v in shown.items() if v is not None}
    return (" " + ",".join(f"{k}={v}" for k, v in shown.items())) if shown else ""


@dataclass(frozen=True)
class MeasuredComparison:
    """One comparison of a plan and the cost of one run of each of its models."""

    comparison: Comparison
    costs: list[ConfigCost]


def measure_comparisons(
    comparisons: Sequence[Comparison], *, steps: int = SAMPLE_STEPS
) -> tuple[list[MeasuredComparison], int]:
    """Time a few steps of every model of every comparison; also the largest model's size."""
    planned = prepare(comparisons)
    largest = max(count for plan in planned for _, count, _ in plan.sizes.values())
    measured = []
    for plan in planned:
        comparison = plan.comparison
        default_lr = float({**get_task(comparison.task).train, **comparison.train}["lr"])
        costs = [
            run_cost(_config(plan, model, default_lr), steps=steps) for model in comparison.models
        ]
        measured.append(MeasuredComparison(comparison, costs))
    return measured, largest


def assemble_estimate(
    measured: Sequence[MeasuredComparison],
    *,
    name: str,
    workers: int,
    seeds: int | None = None,
    steps: int = SAMPLE_STEPS,
) -> Estimate:
    """The :class:`Estimate` of measured comparisons, each with its own number of seeds or
    ``seeds`` for all (an adaptive plan's first or last look).

    Every tuning trial (phase ``tune``) comes before the final runs in the order, as the
    executor submits them; a trial costs what a final run of the same model costs.
    """
    configs: list[ConfigCost] = []
    tuning: list[float] = []
    finals: list[float] = []
    for item in measured:
        runs_per_model = item.comparison.seeds if seeds is None else seeds
        for cost in item.costs:
            configs.append(replace(cost, runs=item.comparison.tune + runs_per_model))
            tuning.extend([cost.run_cpu_s] * item.comparison.tune)
            finals.extend([cost.run_cpu_s] * runs_per_model)
    return Estimate(
        name, configs, tuning + finals, workers, os.cpu_count() or 1, machine_load(), steps
    )


def _measured_with_workers(
    comparisons: Sequence[Comparison], workers: int | None, steps: int
) -> tuple[list[MeasuredComparison], int]:
    measured, largest = measure_comparisons(comparisons, steps=steps)
    return measured, parallelism(workers, None, largest_model=largest)[0]


def estimate_comparisons(
    comparisons: Sequence[Comparison],
    *,
    name: str = "plan",
    workers: int | None = None,
    steps: int = SAMPLE_STEPS,
) -> Estimate:
    """Runs, CPU time and wall time of ``comparisons`` as :func:`run_comparisons` would run
    them with ``workers`` (None: its default), from a few timed steps of each model."""
    measured, workers = _measured_with_workers(comparisons, workers, steps)
    return assemble_estimate(measured, name=name, workers=workers, steps=steps)


def estimate_seed_range(
    comparisons: Sequence[Comparison],
    looks: Sequence[int],
    *,
    name: str = "plan",
    workers: int | None = None,
    steps: int = SAMPLE_STEPS,
) -> tuple[Estimate, Estimate]:
    """With adaptive seeds (looks at ``looks`` seeds per model): the estimate if every
    comparison stops at the first look, and if none stops before the last, from one set of
    measurements."""
    measured, workers = _measured_with_workers(comparisons, workers, steps)
    first, last = (
        assemble_estimate(measured, name=name, workers=workers, seeds=seeds, steps=steps)
        for seeds in (looks[0], looks[-1])
    )
    return first, last


def format_seed_range(first: Estimate, last: Estimate, looks: Sequence[int]) -> str:
    """One line on the range of an adaptive plan, then the upper bound's table."""
    return (
        f"{last.name}, adaptive seeds (looks at {', '.join(map(str, looks))} seeds): "
        f"between {first.runs} runs ({format_hours(first.wall_s)}) if every comparison stops at "
        f"the first look and {last.runs} runs ({format_hours(last.wall_s)}) if none stops early; "
        "the table below is the upper bound.\n" + last.format()
    )
