"""Seeding, RNG state capture/restore and deterministic mode.

A CPU run is bit-for-bit repeatable when (1) every generator it draws from is seeded, (2) the
data order comes from an explicit ``torch.Generator`` whose state is checkpointed with the
global ones, and (3) torch picks deterministic kernels. RNG states are stored as tensors and
plain Python types so a checkpoint loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every GPU).

    Call it before building a model so its initial weights are repeatable; ``Trainer.fit``
    calls it again with ``TrainConfig.seed`` before the first step.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def data_generator(seed: int) -> torch.Generator:
    """A CPU generator for the data order, seeded apart from the global torch generator.

    A distinct stream keeps the batch order independent of how many random numbers the model
    draws (dropout masks, for instance).
    """
    derived = int(np.random.SeedSequence([seed, 0x5EED]).generate_state(1, dtype=np.uint64)[0])
    return torch.Generator().manual_seed(derived)


def capture_rng_state(generator: torch.Generator, *, cuda: bool) -> dict[str, Any]:
    """Snapshot every generator a training run draws from (``cuda``: include GPU states)."""
    _, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if cuda else [],
        "numpy": {
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
        "data": generator.get_state(),
    }


def restore_rng_state(state: dict[str, Any], generator: torch.Generator) -> None:
    """Put back the states recorded by :func:`capture_rng_state`."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        if len(state["cuda"]) != torch.cuda.device_count():
            raise ValueError(
                f"checkpoint holds RNG states of {len(state['cuda'])} GPUs, "
                f"this machine has {torch.cuda.device_count()}"
            )
        torch.cuda.set_rng_state_all(state["cuda"])
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["position"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    python_state = state["python"]
    random.setstate(
        (python_state["version"], tuple(python_state["internal"]), python_state["gauss_next"])
    )
    generator.set_state(state["data"])


@contextlib.contextmanager
def deterministic_mode(enabled: bool, device: torch.device | None = None) -> Iterator[None]:
    """Within the block, make torch choose deterministic kernels; restore the settings after.

    ``warn_only`` keeps operations without a deterministic implementation usable (torch warns).
    Filling uninitialized memory (torch's default in this mode) is turned off: it only guards
    against kernels that read memory they never wrote, and costs a write of every new tensor.
    cuBLAS needs its workspace setting before its first use; it is set only if absent.

    Only CUDA runs switch torch's global mode on: the CPU kernels rnnlab uses are already
    deterministic for a fixed thread count, and ``torch.use_deterministic_algorithms`` imports
    ``torch._inductor`` on first call, which costs seconds per process (measured 5-20 s on a
    loaded 2-core machine) — more than a small training run.
    """
    if not enabled or device is None or device.type != "cuda":
        yield
        return
    previous = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        torch.utils.deterministic.fill_uninitialized_memory,
    )
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.utils.deterministic.fill_uninitialized_memory = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        torch.backends.cudnn.deterministic = previous[2]
        torch.backends.cudnn.benchmark = previous[3]
        torch.utils.deterministic.fill_uninitialized_memory = previous[4]
