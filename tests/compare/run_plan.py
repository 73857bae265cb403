"""Script: run a small fake plan against a store (used by the multi-process tests)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from fakes import fake_run

from rnnlab.compare.executor import execute
from rnnlab.compare.units import RunConfig, RunUnit


def plan() -> list[RunUnit]:
    units = []
    for model in ("lstm", "gru"):
        for seed in range(4):
            config = RunConfig(
                task="fake",
                model=model,
                hidden_size=8 if model == "lstm" else 9,
                train={"epochs": 3},
            )
            units.append(RunUnit(config, seed, "final"))
    return units


if __name__ == "__main__":
    root, workers = sys.argv[1], int(sys.argv[2])
    execute(plan(), root, fake_run, workers=workers, poll_seconds=0.1)
