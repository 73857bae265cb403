"""Plan and run a comparison: parameter matching, equal tuning, seeded final runs.

:func:`run_comparisons` takes :class:`Comparison` specs (one task, several models) and brings
the store to the state where every model has its tuning trials (``phase='tune'``) and its
seeded final runs (``phase='final'``) at the learning rate its own trials chose. Everything
is keyed by content, so calling it again skips finished work and resumes unfinished runs.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from rnnlab.compare.executor import BUSY, Executor, UnitOutcome, make_executor, parallelism
from rnnlab.compare.store import Store
from rnnlab.compare.tasks import get_task
from rnnlab.compare.units import RunConfig, RunFn, RunUnit
from rnnlab.errors import UserInputError

if TYPE_CHECKING:
    from rnnlab.compare.ray_executor import RayOptions

TUNE_SEED = 10_000
"""Seed of every tuning trial (trials differ only in their learning rate)."""

TUNERS = ("grid", "optuna")


@dataclass
class Comparison:
    """One head-to-head: ``models`` on ``task``, parameter-matched to ``budget``.

    Attributes:
        task: task name (see :mod:`rnnlab.compare.tasks`).
        models: encoder names (``lstm``, ``gru``, ``rnn``, ``tcn``, any cell name, ``bilstm`` ...).
        options: task options (``length``, sizes) on top of the task's defaults.
        budget: parameter budget; each model's hidden size is chosen so its total parameter
            count lies within 3 % of it. None uses ``hidden_size`` for every model.
        hidden_size: hidden size when ``budget`` is None.
        seeds: final runs per model.
        tune: tuning trials per model (0: the task's default learning rate).
        tuner: ``grid`` (log-spaced learning rates around the default) or ``optuna`` (TPE).
        train: training settings on top of the task's defaults (``epochs``, ``batch_size``...).
        num_layers: stacked layers of every recurrent model (a TCN gets the levels its
            receptive field needs to cover the sequence).
    """

    task: str
    models: list[str]
    options: dict[str, Any] = field(default_factory=dict)
    budget: int | None = 20_000
    hidden_size: int = 64
    seeds: int = 3
    tune: int = 0
    tuner: str = "grid"
    train: dict[str, Any] = field(default_factory=dict)
    num_layers: int = 1


def parse_budget(text: str | int) -> int:
    """``"20k"`` -> 20000, ``"1.5M"`` -> 1500000, ``"8000"`` -> 8000."""
    if isinstance(text, int):
        value = text
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmM]?)\s*", str(text))
        if not match:
            raise UserInputError(
                f"parameter budget must look like 20000, 20k or 1.5M; got {text!r}"
            )
        scale = {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
        value = round(float(match.group(1)) * scale)
    if value < 1:
        raise UserInputError(f"parameter budget must be positive, got {text!r}")
    return value


def check_models(models: Sequence[str]) -> list[str]:
    """Validate model names; UserInputError naming the valid ones and the closest match."""
    from rnnlab.compare.runner import MODEL_ALIASES
    from rnnlab.models import encoder_names

    valid = [*MODEL_ALIASES, *encoder_names()]
    if not models:
        raise UserInputError("no models given; e.g. --models lstm,gru")
    for name in models:
        if name not in valid:
            close = difflib.get_close_matches(name, valid, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UserInputError(f"unknown model {name!r}; valid models: {', '.join(valid)}.{hint}")
    if len(set(models)) != len(models):
        raise UserInputError(f"model names repeat: {', '.join(models)}")
    return list(models)


def tcn_levels(seq_len: int, kernel_size: int = 3) -> int:
    """Residual levels a TCN needs for its receptive field, 1 + 2 (k - 1) (2^L - 1), to cover
    ``seq_len`` steps (Bai et al. 2018 size their TCNs the same way)."""
    levels = 1
    while 1 + 2 * (kernel_size - 1) * (2**levels - 1) < seq_len:
        levels += 1
    return levels


def model_layers(model: str, comparison: Comparison, seq_len: int) -> list[int]:
    """Candidate layer counts of ``model``, in order of preference: the comparison's
    ``num_layers``, or for a TCN the fewest levels whose receptive field covers the sequence
    (a one-level TCN would see five steps) and two deeper options, because a TCN's parameter
    count moves in coarse steps and one depth may have no width within 3 % of the budget."""
    if model == "tcn":
        levels = tcn_levels(seq_len)
        return [levels, levels + 1, levels + 2]
    return [comparison.num_layers]


def matched_hidden_sizes(comparison: Comparison) -> dict[str, tuple[int, int, int]]:
    """``{model: (hidden_size, parameter_count, num_layers)}`` for the comparison's budget."""
    from rnnlab.compare.runner import encoder_name
    from rnnlab.models import count_parameters, match_hidden_size

    data = get_task(comparison.task).build(comparison.options)
    sizes = {}
    for model in comparison.models:
        candidates = model_layers(model, comparison, data.seq_len)
        for layers in candidates:

            def build(hidden: int, model: str = model, layers: int = layers) -> Any:
                return data.make_model(encoder_name(model), hidden, layers)

            if comparison.budget is None:
                hidden = comparison.hidden_size
                sizes[model] = (hidden, count_parameters(build(hidden)), layers)
                break
            try:
                hidden, count = match_hidden_size(build, comparison.budget)
            except UserInputError as err:
                if layers == candidates[-1]:
                    raise UserInputError(f"{comparison.task}, model {model}: {err}") from err
                continue
            sizes[model] = (hidden, count, layers)
            break
    return sizes


def lr_grid(default_lr: float, trials: int) -> list[float]:
    """``trials`` learning rates log-spaced over [default / 10, default × 10] (3 digits)."""
    if trials == 1:
        return [default_lr]
    values = np.geomspace(default_lr / 10, default_lr * 10, trials)
    return [float(f"{v:.3g}") for v in values]


def _score(metrics: dict[str, Any], metric: str, higher: bool) -> float:
    value = metrics.get(f"val_{metric}", math.nan)
    if value is None or not math.isfinite(value):
        return -math.inf if higher else math.inf
    return float(value)


@dataclass
class Planned:
    """The units of one comparison (filled in as the plan runs): each model's tuning trials,
    chosen learning rate and final runs (``finals``; ``final_units`` lists them all, in model
    order, once the plan has run)."""

    comparison: Comparison
    sizes: dict[str, tuple[int, int, int]]
    tune_units: dict[str, list[RunUnit]] = field(default_factory=dict)
    chosen_lr: dict[str, float] = field(default_factory=dict)
    finals: dict[str, list[RunUnit]] = field(default_factory=dict)
    final_units: list[RunUnit] = field(default_factory=list)


def _config(planned: Planned, model: str, lr: float) -> RunConfig:
    comparison = planned.comparison
    spec = get_task(comparison.task)
    return RunConfig(
        task=comparison.task,
        model=model,
        hidden_size=planned.sizes[model][0],
        task_options={**spec.options, **comparison.options},
        train={**spec.train, **comparison.train, "lr": lr},
        num_layers=planned.sizes[model][2],
        budget=comparison.budget,
    )


def prepare(comparisons: Sequence[Comparison]) -> list[Planned]:
    """Validate every comparison and match budgets, before anything runs."""
    planned = []
    for comparison in comparisons:
        get_task(comparison.task)
        check_models(comparison.models)
        if comparison.seeds < 1:
            raise UserInputError(f"--seeds must be at least 1, got {comparison.seeds}")
        if comparison.tune < 0:
            raise UserInputError(f"--tune must be 0 or more, got {comparison.tune}")
        if comparison.tuner not in TUNERS:
            raise UserInputError(f"tuner must be one of {TUNERS}, got {comparison.tuner!r}")
        planned.append(Planned(comparison, matched_hidden_sizes(comparison)))
    return planned


def run_comparisons(
    comparisons: Sequence[Comparison],
    store_root: str,
    *,
    run_fn: RunFn | None = None,
    workers: int | None = 1,
    threads: int | None = None,
    retry_failed: bool = False,
    on_outcome: Callable[[UnitOutcome], None] | None = None,
    on_plan: Callable[[int], None] | None = None,
    ray: RayOptions | None = None,
) -> list[Planned]:
    """Run every model's tuning trials, then its final runs, of every comparison into the store.

    Each (comparison, model) goes on by itself: as soon as its trials are finished its
    learning rate is picked and its final runs are submitted, while other models still tune.
    ``workers`` run processes (None: one per core, at most 4) with ``threads`` torch threads
    each (None: chosen from the largest matched model, see
    :func:`rnnlab.compare.executor.parallelism`); with ``ray`` the runs are Ray tasks of
    ``threads`` CPUs each instead (see :mod:`rnnlab.compare.ray_executor`). ``on_plan(n)`` is
    told the number of runs before any starts (for progress bars); ``on_outcome`` is called
    as each unit finishes or is skipped.
    """
    from rnnlab.compare.runner import run_one

    Store.check(store_root)
    planned = prepare(comparisons)
    largest = max(count for plan in planned for _, count, _ in plan.sizes.values())
    workers, threads = parallelism(workers, threads, largest_model=largest)
    if on_plan:
        on_plan(
            sum(
                (p.comparison.tune + p.comparison.seeds) * len(p.comparison.models) for p in planned
            )
        )
    executor = make_executor(
        store_root,
        run_fn or run_one,
        workers=workers,
        threads=threads,
        retry_failed=retry_failed,
        on_outcome=on_outcome,
        ray=ray,
    )
    store = Store.open(store_root)  # after the executor: a cluster that refuses creates nothing
    try:
        drive(
            [
                _model_runs(plan, model, store)
                for plan in planned
                for model in plan.comparison.models
            ],
            executor,
        )
    finally:
        executor.close()
        store.close()
    for plan in planned:
        plan.final_units = [u for model in plan.comparison.models for u in plan.finals[model]]
    return planned


def drive(pipelines: Sequence[Iterator[list[RunUnit]]], executor: Executor) -> None:
    """Run ``pipelines`` (each yields batches of units and goes on once a batch is finished
    in the store) on ``executor``, each advancing as soon as its own batch is done."""
    waiting: dict[int, set[str]] = {}

    def advance(index: int) -> None:
        for batch in pipelines[index]:
            if batch:
                waiting[index] = {unit.key for unit in batch}
                executor.submit(batch)
                return
        waiting.pop(index, None)

    for index in range(len(pipelines)):
        advance(index)
    while waiting:
        finished = {o.unit.key for o in executor.wait() if o.outcome != BUSY}
        for index in list(waiting):
            waiting[index] -= finished
            if not waiting[index]:
                advance(index)


def _model_runs(plan: Planned, model: str, store: Store) -> Iterator[list[RunUnit]]:
    # One model of one comparison, batch by batch: its tuning trials (a grid at once, Optuna
    # one by one with a seeded sampler of its own, so a re-run replays the same suggestions
    # and finds the finished trials in the store), then its final runs at the chosen rate.
    comparison = plan.comparison
    spec = get_task(comparison.task)
    default = float({**spec.train, **comparison.train}["lr"])
    trials: list[RunUnit] = []
    if comparison.tune and comparison.tuner == "grid":
        trials = [
            RunUnit(_config(plan, model, lr), TUNE_SEED, "tune")
            for lr in lr_grid(default, comparison.tune)
        ]
        yield trials
    elif comparison.tune:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(
            direction="maximize" if spec.higher_is_better else "minimize",
            sampler=optuna.samplers.TPESampler(seed=0),
        )
        for _ in range(comparison.tune):
            trial = study.ask()
            lr = float(f"{trial.suggest_float('lr', default / 10, default * 10, log=True):.3g}")
            unit = RunUnit(_config(plan, model, lr), TUNE_SEED, "tune")
            yield [unit]
            row = store.get(unit.key)
            value = _score(row.metrics, spec.metric, spec.higher_is_better) if row else math.nan
            if row is None or row.status != "done" or not math.isfinite(value):
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                study.tell(trial, value)
            trials.append(unit)
    plan.tune_units[model] = trials
    lr = default
    scored = []
    for unit in trials:
        row = store.get(unit.key)
        if row is not None and row.status == "done":
            scored.append((_score(row.metrics, spec.metric, spec.higher_is_better), unit))
    if scored:
        pick = max if spec.higher_is_better else min
        lr = float(pick(scored, key=lambda s: s[0])[1].config.train["lr"])
    plan.chosen_lr[model] = lr
    plan.finals[model] = [
        RunUnit(_config(plan, model, lr), seed, "final") for seed in range(comparison.seeds)
    ]
    yield plan.finals[model]
