"""Shared test inputs for the engine tests (imported by the test modules of this folder)."""

from __future__ import annotations

import torch

from rnnlab.nn.cells import CellSpec
from rnnlab.nn.engines import ENGINES, NO_MASKS, StepMasks


def step_masks(
    spec: CellSpec, kind: str, dtype: torch.dtype, steps: int, batch: int, hidden: int
) -> StepMasks:
    """Seeded masks of one kind: ``"zoneout"`` (0/1 per step and unit, broadcast over the
    batch), ``"recurrent"`` (variational dropout, scaled by 1/0.7) or anything else (none)."""
    gen = torch.Generator().manual_seed(2)
    if kind == "zoneout":
        return StepMasks(
            zoneout=tuple(
                (torch.rand(steps, 1, s, generator=gen) < 0.3).to(dtype)
                for s in spec.state_sizes(hidden)
            )
        )
    if kind == "recurrent":
        return StepMasks(recurrent=(torch.rand(batch, hidden, generator=gen) < 0.7).to(dtype) / 0.7)
    return NO_MASKS


def run_with_grads(engine, spec, x, state, params, **kwargs):
    """``(outputs, grads)`` of one engine call: the output and final state, and the gradients
    of a seeded random projection of them for x, the state and every parameter (zeros where
    a tensor is unused)."""
    output, final = ENGINES[engine](spec, x, state, params, **kwargs)
    gen = torch.Generator().manual_seed(1)
    loss = (output * torch.randn(output.shape, generator=gen, dtype=output.dtype)).sum()
    for s in final:
        loss = loss + (s * torch.randn(s.shape, generator=gen, dtype=s.dtype)).sum()
    inputs = [x, *state, *params.values()]
    grads = torch.autograd.grad(loss, inputs, allow_unused=True)
    return [output, *final], [
        g if g is not None else torch.zeros_like(i) for g, i in zip(grads, inputs, strict=True)
    ]
