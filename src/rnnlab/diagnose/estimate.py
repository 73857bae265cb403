"""What a claims study will cost before it runs (``rnnlab claims --estimate``).

The same model as :mod:`rnnlab.compare.estimate`: a few timed steps per distinct run
configuration, in process CPU time with one torch thread, scaled to the whole run and dealt
to W workers in plan order. Per probe:

- ``train``: every step, a validation every ``eval_every`` steps, the test set and the two
  gradient-decay measurements;
- ``horizon``: the ``train`` runs of the lengths the bisection tries when every length is
  solved (the longest path, so an upper bound);
- ``cost``: the probe itself, which is short, timed whole;
- comparison runs (claim 7, real data sets): :func:`rnnlab.compare.estimate.run_cost`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import replace
from itertools import count

from rnnlab.compare.estimate import (
    SAMPLE_STEPS,
    ConfigCost,
    Estimate,
    machine_load,
    one_thread,
    run_cost,
    time_training,
)
from rnnlab.compare.executor import parallelism
from rnnlab.compare.units import RunConfig
from rnnlab.diagnose.experiments import build_model, build_task, cost_probe, units
from rnnlab.diagnose.experiments.budgets import Budget
from rnnlab.diagnose.experiments.probes import _gradient_decay
from rnnlab.diagnose.horizon import bisect_horizon
from rnnlab.diagnose.study import _plan, get_budget
from rnnlab.train import TrainConfig, seed_everything

DECAY_PROBES = 2  # gradient decay at initialisation and after training


def _train_cost(config: RunConfig, length: int, steps: int) -> ConfigCost:
    settings = config.train
    task = build_task(config.task, length, config.task_options["options"], 0, settings["val_size"])
    with one_thread():
        seed_everything(0)
        model = build_model(task, config.model, config.hidden_size, settings["encoder_options"])
        validation = task.validation_set()
        batch_size = settings["batch_size"]
        cost = time_training(
            model,
            TrainConfig(
                lr=settings["lr"],
                clip_norm=settings["clip_norm"],
                device="cpu",
                deterministic=False,
            ),
            lambda epoch, generator: (task.batch(batch_size, generator) for _ in count()),
            [validation],
            steps=steps,
        )
        start = time.process_time()
        _gradient_decay(model, validation.select(slice(64)))
        decay_cpu = time.process_time() - start
    total = settings["steps"]
    validations = max(1, total // settings["eval_every"]) + 1  # and the test set
    return ConfigCost(
        label=f"{config.task} T={length} {config.model} (h={config.hidden_size})",
        runs=1,
        steps=total,
        step_cpu_s=cost.step_cpu_s,
        run_cpu_s=total * cost.step_cpu_s
        + validations * cost.eval_cpu_s
        + DECAY_PROBES * decay_cpu,
    )


def _unit_cost(config: RunConfig, steps: int, cache: dict[str, ConfigCost]) -> ConfigCost:
    probe = config.train.get("probe")
    if probe is None:
        return run_cost(config, steps=steps)
    if probe == "cost":
        start = time.process_time()
        with one_thread():
            cost_probe(config, 0)
        seconds = time.process_time() - start
        label = f"cost {config.model} h={config.hidden_size}"
        return ConfigCost(label, 1, 0, 0.0, seconds)
    lengths = [config.task_options["length"]] if probe == "train" else []
    if probe == "horizon":
        bisect_horizon(
            lambda length: lengths.append(length) or True, config.task_options["lengths"]
        )
    parts = []
    for length in lengths:
        # learning rate and clipping change no step's cost: time each shape once
        shape = {**config.to_dict(), "train": {**config.train, "lr": None, "clip_norm": None}}
        key = json.dumps([shape, length], sort_keys=True, default=str)
        if key not in cache:
            cache[key] = _train_cost(config, length, steps)
        parts.append(cache[key])
    if probe == "train":
        return parts[0]
    return ConfigCost(
        label=f"{config.task} horizon over T={','.join(map(str, lengths))} {config.model} "
        f"(h={config.hidden_size})",
        runs=1,
        steps=sum(p.steps for p in parts),
        step_cpu_s=max(p.step_cpu_s for p in parts),
        run_cpu_s=sum(p.run_cpu_s for p in parts),
    )


def estimate_claims(
    budget: str | Budget,
    *,
    workers: int | None = 1,
    claims: list[int] | None = None,
    steps: int = SAMPLE_STEPS,
    seeds: int | None = None,
    cache: dict[str, ConfigCost] | None = None,
) -> Estimate:
    """Runs, CPU time and wall time of the claims study of ``budget`` with ``workers``
    (None: one per core, at most 4), from a few timed steps of each distinct run; ``seeds``
    per arm (None: the budget's). ``cache`` keeps timed shapes between calls."""
    budget = get_budget(budget)
    arms, _ = _plan(budget, claims)
    todo = units(arms, seeds or budget.seeds)
    largest = max(budget.params, *budget.dataset_params.values())
    workers, _ = parallelism(workers, None, largest_model=largest)
    per_config: dict[str, ConfigCost] = {}
    cache = {} if cache is None else cache
    durations = []
    for unit in todo:
        key = json.dumps(unit.config.to_dict(), sort_keys=True, default=str)
        if key not in per_config:
            per_config[key] = replace(_unit_cost(unit.config, steps, cache), runs=0)
        per_config[key] = replace(per_config[key], runs=per_config[key].runs + 1)
        durations.append(per_config[key].run_cpu_s)
    merged: dict[str, ConfigCost] = {}
    for cost in per_config.values():  # arms that differ only in lr or clipping share a label
        seen = merged.get(cost.label)
        merged[cost.label] = cost if seen is None else replace(seen, runs=seen.runs + cost.runs)
    return Estimate(
        f"claims, budget {budget.name}",
        list(merged.values()),
        durations,
        workers,
        os.cpu_count() or 1,
        machine_load(),
        steps,
    )


def estimate_claims_range(
    budget: str | Budget,
    looks: Sequence[int],
    *,
    workers: int | None = 1,
    claims: list[int] | None = None,
    steps: int = SAMPLE_STEPS,
) -> tuple[Estimate, Estimate]:
    """With adaptive seeds (looks at ``looks`` seeds per arm): the estimate if every claim
    stops at the first look, and if none stops before the last (shapes timed once)."""
    cache: dict[str, ConfigCost] = {}
    first, last = (
        estimate_claims(
            budget, workers=workers, claims=claims, steps=steps, seeds=seeds, cache=cache
        )
        for seeds in (looks[0], looks[-1])
    )
    return first, last
