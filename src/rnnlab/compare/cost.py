"""Cost figures of a trained model: parameters, analytic FLOPs, latency, peak memory."""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time
from typing import Any

import torch
from torch import nn

from rnnlab.data.containers import Batch
from rnnlab.nn.cells import CELLS
from rnnlab.nn.recurrent import Recurrent

PEAK_MEMORY_NOTE = {
    "cuda": "torch.cuda.max_memory_allocated during the run (tensors only)",
    "cpu": "peak resident set size of the process so far (upper bound: includes data, "
    "libraries and earlier runs of the same process)",
}


def flops_per_step(model: nn.Module) -> int:
    """Analytic FLOPs (2 × multiply-adds) per sample and time step of the sequence layers.

    Recurrent layers use their cell's ``flops_per_step`` (input projection included) for
    every layer and direction; TCN convolutions count ``2 · k · C_in · C_out``. Embeddings,
    pointwise activations and output heads are not counted, so the figure compares encoders.
    """
    total = 0
    for module in model.modules():
        if isinstance(module, Recurrent):
            spec = CELLS[module.cell]
            directions = 2 if module.bidirectional else 1
            size_in = module.input_size
            for _ in range(module.num_layers):
                per_direction = spec.flops_per_step(
                    size_in, module.hidden_size, proj_size=module.proj_size
                )
                total += directions * per_direction
                size_in = directions * (module.proj_size or module.hidden_size)
        else:
            total += 2 * _conv1d_weight_count(module)
    return total


def _conv1d_weight_count(module: nn.Module) -> int:
    # A 1-D convolution does one multiply-add per weight per output step: its weight is
    # (C_out, C_in / groups, k). The TCN's weight-normalised convolutions are no nn.Conv1d
    # and keep the direction of that weight as the parameter ``weight_v``.
    if isinstance(module, nn.Conv1d):
        return module.weight.numel()
    weight_v = module._parameters.get("weight_v")
    return weight_v.numel() if weight_v is not None and weight_v.dim() == 3 else 0


def inference_latency_ms(model: nn.Module, batch: Batch, repeats: int = 3) -> float:
    """Median wall time of ``model.metrics(batch)`` (eval mode, no gradients: a forward pass
    plus the metric) divided by the batch size, in milliseconds per sequence."""
    model.metrics(batch)  # warm-up
    times = []
    for _ in range(repeats):
        if batch.x.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        model.metrics(batch)
        if batch.x.is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times) / len(batch)


def reset_peak_memory(device: torch.device) -> None:
    """Start measuring peak memory (CUDA only; CPU RSS cannot be reset)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device: torch.device) -> dict[str, Any]:
    """Peak memory in MiB and what it measures (see :data:`PEAK_MEMORY_NOTE`)."""
    if device.type == "cuda":
        return {
            "peak_memory_mb": torch.cuda.max_memory_allocated(device) / 2**20,
            "peak_memory_kind": "cuda",
        }
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return {"peak_memory_mb": rss * scale / 2**20, "peak_memory_kind": "cpu"}


def machine_load() -> dict[str, Any]:
    """``load_average`` (1-minute, None where the OS has none) and ``cpus`` at this moment:
    a load above the core count means other processes competed for the cores, so times
    measured meanwhile are unreliable (the report says so)."""
    try:
        load: float | None = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = None
    return {"load_average": load, "cpus": os.cpu_count()}
