"""A claim's arms (what runs, what it reads), their distinct run units and the claims table
read back from a results store."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from rnnlab.compare.units import RunConfig, RunUnit


@dataclass(frozen=True)
class ClaimArm:
    """One arm of one split of a claim: the run config and the metric the claim reads."""

    claim: int
    split: str
    arm: str
    config: RunConfig
    metric: str
    higher_is_better: bool


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
