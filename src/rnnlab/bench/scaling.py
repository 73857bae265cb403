"""Scaling curves: forward+backward time against T, H and B at real sizes."""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from rnnlab.bench.calls import engine_call
from rnnlab.bench.cases import CURVES, SWEEPS, Sweep, applicable_engines, parse_variants
from rnnlab.bench.render import draw_scaling
from rnnlab.bench.results import ExtensionWarmup, ScalingCurves, ScalingPoint
from rnnlab.bench.timing import time_interleaved
from rnnlab.bench.warmup import extension_families, libraries_unchanged, warm_up_extensions


def scaling_curves(
    path: str | Path,
    *,
    device: str | torch.device = "cpu",
    reps: int = 3,
    sweeps: Sequence[Sweep] = SWEEPS,
    curves: Sequence[tuple[str, str]] = CURVES,
    on_point: Callable[[ScalingPoint], None] | None = None,
    seed: int = 0,
) -> tuple[ScalingCurves, list[ExtensionWarmup]]:
    """Time forward+backward of each curve along each sweep and draw a log-log PNG at ``path``.

    Every point is the median and min-max of ``reps`` calls after one untimed call; at each
    size the curves are timed together, in rounds of one call each whose order ``seed``
    shuffles, so a change of load hits every curve of a size alike. Curves
    whose engine is not registered or does not support the variant are skipped. Returns the
    points and the warm-up of the C++ libraries the curves needed (loaded before any timing).
    """
    device = torch.device(device)
    lines = [
        (variant, engine)
        for variant, engine in ((parse_variants(v)[0], e) for v, e in curves)
        if engine in applicable_engines(variant, [engine])
    ]
    families = sorted({f for v, e in lines for f in extension_families([v], [e], device)})
    warmups = warm_up_extensions(families)
    result = ScalingCurves(
        png=str(path), reps=reps, device=str(device), threads=torch.get_num_threads()
    )
    rng = random.Random(seed)
    with libraries_unchanged(warmups):
        for sweep in sweeps:
            for size in sweep.sizes():
                calls = [engine_call(v, e, size, device, "train")[0] for v, e in lines]
                times = time_interleaved(calls, device, reps=reps, warmup=1, rng=rng)
                for (variant, engine), samples in zip(lines, times, strict=True):
                    result.points.append(
                        ScalingPoint(
                            curve=f"{variant.name}/{engine}",
                            axis=sweep.axis,
                            size=size,
                            median_ms=statistics.median(samples) * 1e3,
                            min_ms=min(samples) * 1e3,
                            max_ms=max(samples) * 1e3,
                            samples_ms=[t * 1e3 for t in samples],
                        )
                    )
                    if on_point:
                        on_point(result.points[-1])
    draw_scaling(result)
    return result, warmups
