"""The claims budget the diagnose tests run: every claim, a few steps of tiny models."""

import dataclasses

from rnnlab.diagnose.experiments import BUDGETS

TINY = dataclasses.replace(
    BUDGETS["quick"],
    name="tiny",
    seeds=2,
    steps=4,
    eval_every=2,
    val_size=16,
    adding_length=3,
    copy_length=2,
    copy_memory=2,
    horizon_lengths={"adding": (2, 3), "copy": (1, 2)},
    cost_hidden=4,
    cost_length=3,
    speed_rounds=3,
    claim7_tasks=(),
)
