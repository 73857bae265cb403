"""One planner per claim: the arms it runs for a budget. Adding a claim adds one function here
and one entry in :data:`PLANNERS`."""

from __future__ import annotations

from collections.abc import Callable

from rnnlab.compare.units import RunConfig
from rnnlab.data import datasets
from rnnlab.diagnose.experiments.arms import ClaimArm
from rnnlab.diagnose.experiments.budgets import Budget
from rnnlab.diagnose.experiments.planner import Planner, compare_arms, equal_params_hidden
from rnnlab.diagnose.experiments.tasks import TASK_METRICS

COST_INPUTS = 16  # input size of claim 4's cost runs


def _label(task: str, budget: Budget) -> str:
    return f"{task} T={budget.length(task)}"


def gating_vs_vanishing(p: Planner) -> None:
    """1. Gating (LSTM, GRU) prevents the vanishing gradients of a plain RNN."""
    b = p.budget
    for task in ("adding", "copy"):
        for arm in ("lstm", "gru", "rnn"):
            config = p.train_config(task, arm)
            for when, metric in (("at init", "decay_init"), ("after training", "decay_final")):
                p.add(1, f"gradient decay {when}, {_label(task, b)}", arm, config, metric, True)
    for arm in ("lstm", "gru", "rnn"):
        config = p.train_config("adding", arm, probe="horizon", lengths=b.horizon_lengths["adding"])
        p.add(1, "memory horizon, adding", arm, config, "horizon", True)


def explosions_without_clipping(p: Planner) -> None:
    """2. GRU's gates keep gradients from exploding, while LSTM's cannot (no clipping)."""
    for lr in p.budget.explosion_lrs:
        for arm in ("lstm", "gru"):
            config = p.train_config("adding", arm, lr=lr, clip_norm=None)
            p.add(2, f"{_label('adding', p.budget)}, lr={lr:g}, no clipping", arm, config,
                  "explosion_score", False)  # fmt: skip


def lstm_vs_gru_memory(p: Planner) -> None:
    """3. LSTM captures longer dependencies than GRU."""
    b = p.budget
    for task in ("adding", "copy"):
        for arm in ("lstm", "gru"):
            horizon = p.train_config(task, arm, probe="horizon", lengths=b.horizon_lengths[task])
            p.add(3, f"memory horizon, {task}", arm, horizon, "horizon", True)
            metric, higher, _ = TASK_METRICS[task]
            config = p.train_config(task, arm)
            p.add(3, f"{metric}, {_label(task, b)}", arm, config, metric, higher)


def cost(p: Planner) -> None:
    """4. GRU has fewer parameters and is cheaper (equal hidden size, equal parameters).

    Parameters and FLOPs only: claim 4's speed comes from an interleaved benchmark run after
    the study's runs (:mod:`rnnlab.diagnose.claim_speed`), not from runs sharing the machine.
    """
    b = p.budget
    for setting in ("equal hidden size", "equal parameters"):
        for arm in ("lstm", "gru"):
            hidden = b.cost_hidden
            if setting == "equal parameters" and arm == "gru":
                hidden = equal_params_hidden("gru", "lstm", COST_INPUTS, b.cost_hidden)
            config = RunConfig(
                task="cost",
                model=arm,
                hidden_size=hidden,
                train={"probe": "cost", "input_size": COST_INPUTS},
            )
            if setting == "equal hidden size":
                p.add(4, f"parameters, {setting}", arm, config, "params", False)
            p.add(4, f"FLOPs per step, {setting}", arm, config, "flops_per_step", False)


def convergence_speed(p: Planner) -> None:
    """5. GRU converges faster: steps and seconds to a validation target."""
    for task in ("adding", "copy"):
        label = _label(task, p.budget)
        for arm in ("lstm", "gru"):
            config = p.train_config(task, arm)
            p.add(5, f"steps to target, {label}", arm, config, "steps_to_target", False)
            p.add(5, f"seconds to target, {label}", arm, config, "seconds_to_target", False)


def bidirectional(p: Planner) -> None:
    """6. A bidirectional LSTM captures long-term dependencies better than an LSTM."""
    splits = {
        "adding": "whole sequence seen before the answer",
        "copy": "answer lies only in the past",
    }
    for task, why in splits.items():
        metric, higher, _ = TASK_METRICS[task]
        for arm in ("bilstm", "lstm"):
            config = p.train_config(task, arm)
            p.add(6, f"{_label(task, p.budget)} ({why})", arm, config, metric, higher)


def real_datasets(p: Planner) -> None:
    """7. GRU suits fixed-length, LSTM variable-length sequences: real data sets, trained by
    the compare runner (run_one) exactly as `rnnlab compare`.

    A data set whose package is not installed here is noted and skipped; any other error
    is a bug and propagates.
    """
    for kind, task in p.budget.claim7_tasks:
        info = datasets.info(task)
        if not info.installed:
            p.notes.setdefault(7, []).append(
                f"{task} not run (data set {task!r} needs the package {info.package!r}, which "
                f"is not installed; install it with: {info.install})"
            )
            continue
        for arm, config, metric, higher in compare_arms(task, ("lstm", "gru"), p.budget):
            p.add(7, f"{kind} {task}", arm, config, metric, higher)


def forget_bias(p: Planner) -> None:
    """8. A forget-gate bias of 1 helps LSTM."""
    for task in ("adding", "copy"):
        metric, higher, _ = TASK_METRICS[task]
        hidden = p.hidden(task, p.budget.length(task), "lstm", {"forget_bias": 1.0})
        for bias in (1.0, 0.0):
            config = p.train_config(task, "lstm", options={"forget_bias": bias}, hidden_size=hidden)
            p.add(8, _label(task, p.budget), f"forget_bias={bias:g}", config, metric, higher)


def tcn_vs_rnns(p: Planner) -> None:
    """9. A TCN matches or beats recurrent networks."""
    for task in ("adding", "copy"):
        metric, higher, _ = TASK_METRICS[task]
        for arm in ("tcn", "lstm", "gru"):
            p.add(9, _label(task, p.budget), arm, p.train_config(task, arm), metric, higher)


#: Claim number -> its planner, in plan order.
PLANNERS: dict[int, Callable[[Planner], None]] = {
    1: gating_vs_vanishing,
    2: explosions_without_clipping,
    3: lstm_vs_gru_memory,
    4: cost,
    5: convergence_speed,
    6: bidirectional,
    7: real_datasets,
    8: forget_bias,
    9: tcn_vs_rnns,
}


def plan(budget: Budget) -> tuple[list[ClaimArm], dict[int, list[str]]]:
    """Every claim's arms for ``budget`` (runs shared between claims have equal configs),
    and per claim the notes on parts that could not be planned (e.g. a missing dataset)."""
    planner = Planner(budget)
    for plan_claim in PLANNERS.values():
        plan_claim(planner)
    return planner.arms, planner.notes
