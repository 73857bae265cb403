"""Wall-clock timing: calls one by one or in shuffled rounds, peak GEMM rate, load average."""

from __future__ import annotations

import os
import random
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


def time_interleaved(
    calls: Sequence[Callable[[], object]],
    device: torch.device,
    *,
    reps: int,
    warmup: int,
    rng: random.Random,
) -> list[list[float]]:
    """Seconds of ``reps`` timed calls of each of ``calls``, in rounds of one call each, the
    order within every round shuffled by ``rng``.

    Round ``i`` of every list was measured within the same few milliseconds, so a change of
    machine load hits the calls of a round alike and ratios taken round by round (pairs) stay
    meaningful on a shared machine; shuffling removes the bias of always running first (cold
    caches, a descheduled thread at the start of a round).
    """
    for _ in range(warmup):
        for fn in calls:
            fn()
            sync(device)
    times: list[list[float]] = [[] for _ in calls]
    order = list(range(len(calls)))
    for _ in range(reps):
        rng.shuffle(order)
        for k in order:
            start = time.perf_counter()
            calls[k]()
            sync(device)
            times[k].append(time.perf_counter() - start)
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
