"""Wall-clock timing of calls: one by one, alternately, the machine's peak GEMM rate and load."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence

import torch


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(
    fn: Callable[[], object], device: torch.device, *, reps: int, warmup: int
) -> tuple[list[float], float]:
    """Seconds of ``reps`` timed calls after ``warmup`` untimed ones, and the first call's time."""
    first = 0.0
    for i in range(max(warmup, 1)):
        start = time.perf_counter()
        fn()
        sync(device)
        if i == 0:
            first = time.perf_counter() - start
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return times, first


def time_alternately(
    calls: Sequence[Callable[[], object]], device: torch.device, *, reps: int, warmup: int
) -> list[list[float]]:
    """Seconds of ``reps`` timed calls of each of ``calls``, taken in turn call by call.

    Alternating means a change of machine load during the measurement hits every call alike,
    so their ratio stays meaningful on a shared machine.
    """
    for _ in range(warmup):
        for fn in calls:
            fn()
            sync(device)
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(reps):
        for fn, out in zip(calls, times, strict=True):
            start = time.perf_counter()
            fn()
            sync(device)
            out.append(time.perf_counter() - start)
    return times


def peak_gemm_gflops(device: torch.device, *, size: int = 1024, reps: int = 3) -> float:
    """Best FP32 GFLOP/s of a square ``torch.mm`` on this machine right now."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    times, _ = time_calls(lambda: torch.mm(a, b), device, reps=reps, warmup=2)
    return 2 * size**3 / min(times) / 1e9


def load_average_now() -> float | None:
    """The 1-minute load average, or None where the OS does not report one."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None
