"""Script: run a small fake plan against a store (used by the multi-process tests)."""

import os
import sys
import time
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


def wait_at_barrier() -> None:
    """With FAKE_BARRIER_DIR set, announce readiness and wait for the test's 'go' file, so
    that concurrent processes start working at the same moment."""
    barrier = os.environ.get("FAKE_BARRIER_DIR")
    if not barrier:
        return
    Path(barrier, f"ready.{os.getpid()}").touch()
    while not Path(barrier, "go").exists():
        time.sleep(0.01)


if __name__ == "__main__":
    wait_at_barrier()
    root, workers = sys.argv[1], int(sys.argv[2])
    execute(plan(), root, fake_run, workers=workers, poll_seconds=0.1)
