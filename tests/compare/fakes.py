"""Stand-in run functions for executor/store tests (importable by spawned processes)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch

from rnnlab.compare.units import RunConfig, RunResult
from rnnlab.errors import UserInputError


def fake_run(config: RunConfig, seed: int, checkpoint_dir: Path | None) -> RunResult:
    """A deterministic 'training' of a few epochs that checkpoints after each epoch.

    The metric depends only on (config, seed); the checkpoint lets a killed run resume, and
    ``resumed_from`` records where it picked up.
    """
    epochs = int(config.train.get("epochs", 3))
    delay = float(config.train.get("epoch_seconds", os.environ.get("FAKE_EPOCH_SECONDS", "0")))
    state = {"epoch": 0, "total": 0.0, "resumed_from": None}
    ckpt = checkpoint_dir / "state.json" if checkpoint_dir else None
    if ckpt and ckpt.exists():
        state = json.loads(ckpt.read_text())
        state["resumed_from"] = state["epoch"]
    if config.train.get("fail"):
        raise RuntimeError("boom")
    if config.train.get("user_error"):
        raise UserInputError(f"corrupt checkpoint in {checkpoint_dir}")
    crash = config.train.get("crash_while_exists")
    if crash and Path(crash).exists():
        os._exit(1)  # the process dies mid-run, as if killed
    while state["epoch"] < epochs:
        time.sleep(delay)
        state["epoch"] += 1
        state["total"] += (seed + 1) * config.hidden_size * float(config.train.get("lr", 1.0))
        if ckpt:
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            tmp = ckpt.with_suffix(".tmp")
            tmp.write_text(json.dumps(state))
            os.replace(tmp, ckpt)
    return RunResult(
        status="done",
        metrics={"test_accuracy": state["total"] / 1000, "val_accuracy": state["total"] / 1000},
        curves={"epoch": list(range(1, epochs + 1))},
        cost={
            "params": config.hidden_size * 10,
            "pid": os.getpid(),
            "threads": torch.get_num_threads(),
        },
        error=None if state["resumed_from"] is None else f"resumed at {state['resumed_from']}",
    )
