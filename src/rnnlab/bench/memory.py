"""Memory of one call: peak bytes allocated during it, and bytes autograd saves for backward."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator

import torch
from torch import Tensor

from rnnlab.bench.timing import sync


class _SavedBytes:
    """Counts distinct storages autograd saves for backward while active."""

    def __init__(self) -> None:
        self.storages: dict[int, int] = {}

    def pack(self, tensor: Tensor) -> Tensor:
        storage = tensor.untyped_storage()
        self.storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    @property
    def mib(self) -> float:
        return sum(self.storages.values()) / 2**20


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """Discard what C++ code writes to file descriptor 2 (kineto logs profiler start/stop)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def cpu_peak_mib(call: Callable[[], object]) -> float:
    """Peak of the running sum of the CPU allocations and frees the profiler records in a call."""
    from torch.profiler import ProfilerActivity, profile

    profiler = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
    with _stderr_silenced():
        profiler.__enter__()
    try:
        call()
    finally:
        with _stderr_silenced():
            profiler.__exit__(None, None, None)
    events = profiler.profiler.kineto_results.events()
    changes = sorted((e.start_ns(), e.nbytes()) for e in events if e.name() == "[memory]")
    running = peak = 0
    for _, nbytes in changes:
        running += nbytes
        peak = max(peak, running)
    return peak / 2**20


def measure_memory(
    call: Callable[[], object], device: torch.device, mode: str
) -> tuple[float, float | None]:
    """MiB of one call: peak allocated above the start, and (train) bytes saved for backward."""
    counter = _SavedBytes()

    def counted_call() -> None:
        with torch.autograd.graph.saved_tensors_hooks(counter.pack, lambda t: t):
            call()

    if device.type == "cuda":
        sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
        counted_call()
        sync(device)
        peak = (torch.cuda.max_memory_allocated(device) - start) / 2**20
    else:
        peak = cpu_peak_mib(counted_call)
    return peak, None if mode == "forward" else counter.mib
