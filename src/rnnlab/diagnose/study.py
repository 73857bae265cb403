"""Run the claims study into a results store and read its verdicts back.

``run_claims`` plans every claim's runs for a budget, executes them with the compare
executor (atomic claims in ``results.db``: a killed run re-run skips what finished), then,
with no run left training, claim 4's speed benchmark (:mod:`rnnlab.diagnose.claim_speed`,
kept in the store once measured), and returns the table and verdicts; ``load_claims``
rebuilds both from the store alone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from rnnlab.compare.adaptive import SequentialDesign
from rnnlab.compare.cost import machine_load
from rnnlab.compare.executor import UnitOutcome, make_executor, parallelism, run_all
from rnnlab.compare.margins import Margin
from rnnlab.compare.store import Store
from rnnlab.compare.units import RunUnit
from rnnlab.diagnose.claim_speed import SPEED_FILE, SpeedBenchmark, measure_speed, with_speed
from rnnlab.diagnose.claims import judge
from rnnlab.diagnose.experiments import (
    BUDGETS,
    Budget,
    ClaimArm,
    claims_table,
    plan,
    run_probe,
    units,
)
from rnnlab.diagnose.verdicts import INCONCLUSIVE, ClaimVerdict
from rnnlab.errors import UserInputError

if TYPE_CHECKING:
    from rnnlab.compare.ray_executor import RayOptions


@dataclass
class ClaimsResult:
    """A claims study as stored: its budget, runs, table and verdicts."""

    budget: Budget
    arms: list[ClaimArm]
    notes: dict[int, list[str]]
    table: pd.DataFrame
    verdicts: list[ClaimVerdict]
    wall_time_s: float | None = None  # of the run that produced it (None when only loaded)
    load_per_core: float | None = None
    """Highest 1-minute load average per core at the start and end of the run (None when
    only loaded): above 1, other processes competed for the cores and timings are noisy."""
    margin: Margin | None = None  # the --margin override (None: each metric's default)
    design: SequentialDesign | None = None  # adaptive seeds: the looks and alpha spending
    seeds: dict[int, int] | None = None  # adaptive seeds: per claim, seeds at its last look
    levels: dict[int, float] | None = None  # adaptive seeds: per claim, that look's alpha
    speed: SpeedBenchmark | None = None  # claim 4's speed benchmark, when it has run


def get_budget(budget: str | Budget) -> Budget:
    """A budget by name (``quick``, ``standard``) or as given."""
    if isinstance(budget, Budget):
        return budget
    if budget not in BUDGETS:
        raise UserInputError(f"unknown budget {budget!r}; choose from {', '.join(BUDGETS)}")
    return BUDGETS[budget]


def run_claims(
    budget: str | Budget,
    store: str | os.PathLike[str],
    *,
    workers: int | None = 1,
    threads: int | None = None,
    claims: list[int] | None = None,
    on_outcome: Callable[[UnitOutcome], None] | None = None,
    on_plan: Callable[[int], None] | None = None,
    ray: RayOptions | None = None,
    margin: Margin | None = None,
    max_seeds: int | None = None,
) -> ClaimsResult:
    """Run (or finish) the claims study of ``budget`` in ``store`` and judge it.

    ``workers`` run processes (None: one per core, at most 4) with ``threads`` torch threads
    each (None: 1 for models this small, see :func:`rnnlab.compare.executor.parallelism`).

    ``claims`` restricts the study to some claim numbers; ``on_plan`` receives the number of
    run units before they start, ``on_outcome`` each unit's outcome (for progress bars);
    ``margin`` overrides the metrics' default equivalence margins. ``max_seeds`` adds seeds
    adaptively: from the budget's seeds, 2 more at a time to every claim with an
    inconclusive split, up to ``max_seeds``, each look judged at its alpha-spending level
    (:mod:`rnnlab.compare.adaptive`).
    With ``ray`` the runs are Ray tasks of ``threads`` CPUs each (``workers`` unused).
    """
    start = time.perf_counter()
    loads = [machine_load()]
    budget = get_budget(budget)
    arms, notes = _plan(budget, claims)
    design = None if max_seeds is None else SequentialDesign.up_to(max_seeds, first=budget.seeds)
    Store.open(store).close()  # create it, or refuse a directory that is not a store
    largest = max(budget.params, *budget.dataset_params.values())
    workers, threads = parallelism(workers, threads, largest_model=largest)

    def run(todo: list[RunUnit]) -> None:
        if on_plan is not None:
            on_plan(len(todo))
        executor = make_executor(
            store, run_probe, workers=workers, threads=threads, on_outcome=on_outcome, ray=ray
        )
        try:
            run_all(executor, todo)
        finally:
            executor.close()
        # Claim 4's speed: timed apart, now that no worker trains beside it; kept once measured.
        if 4 in {a.claim for a in arms} and not (Path(store) / SPEED_FILE).exists():
            measure_speed(budget).save(Path(store) / SPEED_FILE)

    if design is None:
        run(units(arms, budget.seeds))
        result = _judge(budget, arms, notes, store, margin)
    else:
        result = _adaptive(budget, arms, notes, store, margin, design, run)
    result.wall_time_s = time.perf_counter() - start
    loads.append(machine_load())
    per_core = [x["load_average"] / x["cpus"] for x in loads if x["load_average"] and x["cpus"]]
    result.load_per_core = max(per_core, default=None)
    return result


def load_claims(
    budget: str | Budget,
    store: str | os.PathLike[str],
    claims: list[int] | None = None,
    margin: Margin | None = None,
    max_seeds: int | None = None,
) -> ClaimsResult:
    """The table and verdicts of the study in ``store``, without running anything.

    Runs that are not in the store count as ``missing`` (inconclusive verdicts say so). With
    ``max_seeds`` the looks of an adaptive study are replayed from the stored runs (the same
    runs give the same decisions, so each claim stops where it stopped when it ran).
    """
    budget = get_budget(budget)
    arms, notes = _plan(budget, claims)
    if max_seeds is None:
        return _judge(budget, arms, notes, store, margin)
    design = SequentialDesign.up_to(max_seeds, first=budget.seeds)
    return _adaptive(budget, arms, notes, store, margin, design, lambda todo: None)


def _adaptive(
    budget: Budget,
    arms: list[ClaimArm],
    notes: dict,
    store,
    margin: Margin | None,
    design: SequentialDesign,
    run: Callable[[list[RunUnit]], None],
) -> ClaimsResult:
    """Look after each batch of seeds; add seeds only to claims with an inconclusive split."""
    pending = {a.claim for a in arms}
    seeds: dict[int, int] = {}
    levels: dict[int, float] = {}
    for look, n in enumerate(design.looks):
        for claim in pending:
            seeds[claim], levels[claim] = n, design.level(look)
        run(units([a for a in arms if a.claim in pending], n))
        result = _judge(budget, arms, notes, store, margin, seeds, levels)
        pending = {
            v.claim
            for v in result.verdicts
            if v.claim in pending and any(s.outcome == INCONCLUSIVE for s in v.splits)
        }
        if not pending:
            break
    result.design, result.seeds, result.levels = design, seeds, levels
    return result


def _plan(budget: Budget, claims: list[int] | None) -> tuple[list[ClaimArm], dict]:
    arms, notes = plan(budget)
    if claims is not None:
        unknown = sorted(set(claims) - set(range(1, 10)))
        if unknown:
            raise UserInputError(f"claims are numbered 1 to 9, got {unknown}")
        arms = [a for a in arms if a.claim in claims]
        notes = {k: v for k, v in notes.items() if k in claims}
    return arms, notes


def _judge(
    budget: Budget,
    arms: list[ClaimArm],
    notes: dict,
    store,
    margin: Margin | None,
    seeds: dict[int, int] | None = None,
    levels: dict[int, float] | None = None,
) -> ClaimsResult:
    """Judge the stored runs: ``seeds`` per claim (default the budget's), at ``levels``."""
    if Path(store).exists() and not Path(store).is_dir():
        raise UserInputError(f"{store} is a file, not a directory; --store takes a claims store")
    if not (Path(store) / "results.db").exists():
        raise UserInputError(f"{store} holds no claims results (no results.db)")
    opened = Store.open(store, create=False)
    try:
        rows = {row.key: row for row in opened.rows(phase="final")}
    finally:
        opened.close()
    seeds = seeds or {}
    tables = [
        claims_table([a for a in arms if a.claim == claim], seeds.get(claim, budget.seeds), rows)
        for claim in dict.fromkeys(a.claim for a in arms)
    ]
    table = pd.concat(tables, ignore_index=True) if tables else claims_table([], 0, rows)
    speed_file = Path(store) / SPEED_FILE
    speed = SpeedBenchmark.load(speed_file) if speed_file.exists() else None
    verdicts = with_speed(judge(table, notes, margin, levels or {}), speed)
    claimed = {a.claim for a in arms} | set(notes)
    verdicts = [v for v in verdicts if v.claim in claimed]
    return ClaimsResult(budget, arms, notes, table, verdicts, margin=margin, speed=speed)
