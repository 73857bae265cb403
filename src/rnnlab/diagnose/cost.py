"""Cost of each cell: exact parameter count, analytic FLOPs per step, measured time per step.

The parameter count comes from the closed form of :meth:`CellSpec.param_count` (via
:func:`rnnlab.nn.count_params`) and is checked against the parameters of the module actually
built; a mismatch raises, so a table this module prints is never silently wrong. FLOPs are
``CellSpec.flops_per_step`` (2 × multiply–adds of the matrix products per sample and step).
Time per step is the median wall time of a forward + backward pass over a sequence, divided
by its length.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from rnnlab.nn import CELLS, count_params, make_rnn

ENGINES = ("native", "loop", "scan", "reference")


def check_param_count(cell: str, input_size: int, hidden_size: int, **options: object) -> int:
    """The analytic parameter count of ``make_rnn(cell, ...)``, verified on the built module."""
    analytic = count_params(cell, input_size, hidden_size, **options)
    built = sum(p.numel() for p in make_rnn(cell, input_size, hidden_size, **options).parameters())
    if analytic != built:
        raise AssertionError(
            f"{cell}: analytic parameter count {analytic} differs from the built module's {built}"
        )
    return analytic


def time_per_step(
    rnn: torch.nn.Module,
    input_size: int,
    *,
    length: int = 50,
    batch_size: int = 32,
    repeats: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """Seconds per time step of forward + backward, one value per repeat (after a warm-up)."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(length, batch_size, input_size, generator=generator)
    if getattr(rnn, "batch_first", False):
        x = x.transpose(0, 1)
    times = []
    for repeat in range(repeats + 1):
        start = time.perf_counter()
        output, _ = rnn(x)
        output.sum().backward()
        elapsed = time.perf_counter() - start
        if repeat:  # the first pass warms caches and allocators
            times.append(elapsed / length)
        rnn.zero_grad(set_to_none=True)
    return np.asarray(times)


def supported_engines(cell: str) -> list[str]:
    """Engines that can run ``cell`` (those ``make_rnn`` accepts)."""
    engines = []
    for engine in ENGINES:
        try:
            make_rnn(cell, 1, 1, engine=engine)
        except (ValueError, TypeError):
            continue
        engines.append(engine)
    return engines


def cost_table(
    input_size: int,
    hidden_size: int,
    *,
    cells: list[str] | None = None,
    engines: list[str] | None = None,
    length: int = 50,
    batch_size: int = 32,
    repeats: int = 5,
) -> pd.DataFrame:
    """One row per (cell, engine): params, FLOPs per step and median time per step (µs).

    ``cells`` defaults to every cell of :data:`rnnlab.nn.CELLS`; ``engines`` to every engine
    that supports the cell. Parameter counts are verified against the built modules.
    """
    rows = []
    for cell in cells or list(CELLS):
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r}; expected one of {', '.join(CELLS)}")
        params = check_param_count(cell, input_size, hidden_size)
        flops = CELLS[cell].flops_per_step(input_size, hidden_size)
        available = supported_engines(cell)
        for engine in engines or available:
            if engine not in available:
                continue
            rnn = make_rnn(cell, input_size, hidden_size, engine=engine)
            seconds = time_per_step(
                rnn, input_size, length=length, batch_size=batch_size, repeats=repeats
            )
            rows.append(
                {
                    "cell": cell,
                    "engine": engine,
                    "params": params,
                    "flops_per_step": flops,
                    "us_per_step": float(np.median(seconds) * 1e6),
                    "us_per_step_iqr": float(np.subtract(*np.percentile(seconds, [75, 25])) * 1e6),
                }
            )
    return pd.DataFrame(rows)
