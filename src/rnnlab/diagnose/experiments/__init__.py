"""The claims' experiments, declared per budget, and the probes that run them.

Every claim is a list of :class:`ClaimArm` — (split, arm, run config, metric to read) — built
by :func:`plan` for a :class:`Budget`. The runs are ordinary :class:`rnnlab.compare.units.RunUnit`
executed by :func:`rnnlab.compare.executor.execute` into a results store, so a claims run
shares the compare machinery: killed and re-run, it skips finished runs; identical runs that
several claims need (LSTM on adding, for instance) are trained once.

One idea per module: ``budgets`` (the sizes), ``tasks`` (synthetic tasks and matched models),
``probes`` (what one run measures), ``arms`` (a claim's arms and the claims table),
``planner`` (what planners share) and ``planners`` (one planner per claim).
"""

from rnnlab.diagnose.experiments.arms import ClaimArm, claims_table, units
from rnnlab.diagnose.experiments.budgets import BUDGETS, Budget
from rnnlab.diagnose.experiments.planners import PLANNERS, plan
from rnnlab.diagnose.experiments.probes import (
    PROBES,
    cost_probe,
    horizon_probe,
    memory_horizon,
    run_probe,
    train_probe,
)
from rnnlab.diagnose.experiments.tasks import (
    ENCODERS,
    TASK_METRICS,
    TCN_KERNEL,
    build_model,
    build_task,
    matched_hidden_size,
)

__all__ = [
    "BUDGETS",
    "ENCODERS",
    "PLANNERS",
    "PROBES",
    "TASK_METRICS",
    "TCN_KERNEL",
    "Budget",
    "ClaimArm",
    "build_model",
    "build_task",
    "claims_table",
    "cost_probe",
    "horizon_probe",
    "matched_hidden_size",
    "memory_horizon",
    "plan",
    "run_probe",
    "train_probe",
    "units",
]
