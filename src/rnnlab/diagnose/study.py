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

from rnnlab.compare.cost import machine_load
from rnnlab.compare.executor import UnitOutcome, make_executor, parallelism, run_all
from rnnlab.compare.store import Store
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
from rnnlab.diagnose.verdicts import ClaimVerdict
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
) -> ClaimsResult:
    """Run (or finish) the claims study of ``budget`` in ``store`` and judge it.

    ``workers`` run processes (None: one per core, at most 4) with ``threads`` torch threads
    each (None: 1 for models this small, see :func:`rnnlab.compare.executor.parallelism`).

    ``claims`` restricts the study to some claim numbers; ``on_plan`` receives the number of
    run units before they start, ``on_outcome`` each unit's outcome (for progress bars).
    With ``ray`` the runs are Ray tasks of ``threads`` CPUs each (``workers`` unused).
    """
    start = time.perf_counter()
    loads = [machine_load()]
    budget = get_budget(budget)
    arms, notes = _plan(budget, claims)
    todo = units(arms, budget.seeds)
    if on_plan is not None:
        on_plan(len(todo))
    Store.open(store).close()  # create it, or refuse a directory that is not a store
    largest = max(budget.params, *budget.dataset_params.values())
    workers, threads = parallelism(workers, threads, largest_model=largest)
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
    result = _judge(budget, arms, notes, store)
    result.wall_time_s = time.perf_counter() - start
    loads.append(machine_load())
    per_core = [x["load_average"] / x["cpus"] for x in loads if x["load_average"] and x["cpus"]]
    result.load_per_core = max(per_core, default=None)
    return result


def load_claims(
    budget: str | Budget, store: str | os.PathLike[str], claims: list[int] | None = None
) -> ClaimsResult:
    """The table and verdicts of the study in ``store``, without running anything.

    Runs that are not in the store count as ``missing`` (inconclusive verdicts say so).
    """
    budget = get_budget(budget)
    arms, notes = _plan(budget, claims)
    return _judge(budget, arms, notes, store)


def _plan(budget: Budget, claims: list[int] | None) -> tuple[list[ClaimArm], dict]:
    arms, notes = plan(budget)
    if claims is not None:
        unknown = sorted(set(claims) - set(range(1, 10)))
        if unknown:
            raise UserInputError(f"claims are numbered 1 to 9, got {unknown}")
        arms = [a for a in arms if a.claim in claims]
        notes = {k: v for k, v in notes.items() if k in claims}
    return arms, notes


def _judge(budget: Budget, arms: list[ClaimArm], notes: dict, store) -> ClaimsResult:
    if Path(store).exists() and not Path(store).is_dir():
        raise UserInputError(f"{store} is a file, not a directory; --store takes a claims store")
    if not (Path(store) / "results.db").exists():
        raise UserInputError(f"{store} holds no claims results (no results.db)")
    opened = Store.open(store, create=False)
    try:
        rows = {row.key: row for row in opened.rows(phase="final")}
    finally:
        opened.close()
    table = claims_table(arms, budget.seeds, rows)
    speed_file = Path(store) / SPEED_FILE
    speed = SpeedBenchmark.load(speed_file) if speed_file.exists() else None
    verdicts = with_speed(judge(table, notes), speed)
    claimed = {a.claim for a in arms} | set(notes)
    verdicts = [v for v in verdicts if v.claim in claimed]
    return ClaimsResult(budget, arms, notes, table, verdicts, speed=speed)
