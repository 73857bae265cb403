"""rnnlab.diagnose: look inside recurrent models, and measure claims about them.

Diagnostics (numpy arrays out): :func:`gradient_flow`, :func:`decay_rate`,
:func:`step_jacobian_norms`, :func:`explosion_events`, :func:`gate_statistics`,
:func:`memory_horizon`, :func:`cost_table`, and :func:`diagnose_training` (all of them along
one training run, with plots). The claims study lives in :mod:`rnnlab.diagnose.claims`
(statements and verdict functions), :mod:`~rnnlab.diagnose.experiments` (what each claim
runs), :mod:`~rnnlab.diagnose.study` (running it into a results store) and
:mod:`rnnlab.report.claims_page` (the page). See docs/claims.md.
"""

from rnnlab.diagnose.cost import cost_table
from rnnlab.diagnose.experiments import memory_horizon
from rnnlab.diagnose.explosions import ExplosionSummary, explosion_events
from rnnlab.diagnose.gates import gate_statistics
from rnnlab.diagnose.gradients import decay_rate, gradient_flow, step_jacobian_norms
from rnnlab.diagnose.horizon import bisect_horizon
from rnnlab.diagnose.training import TrainingDiagnostics, diagnose_training

__all__ = [
    "ExplosionSummary",
    "TrainingDiagnostics",
    "bisect_horizon",
    "cost_table",
    "decay_rate",
    "diagnose_training",
    "explosion_events",
    "gate_statistics",
    "gradient_flow",
    "memory_horizon",
    "step_jacobian_norms",
]
