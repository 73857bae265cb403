"""The reference engine: a plain Python time loop over the cell's step function.

It is the readable oracle the other engines are tested against, and it records the gate
activations for :meth:`rnnlab.nn.Recurrent.trace`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.nn.cells import CellSpec, State, project_input
from rnnlab.nn.engines.base import StepMasks, register_engine, valid_steps


def run_traced(
    spec: CellSpec,
    x: Tensor,
    state: State,
    params: dict[str, Tensor],
    *,
    lengths: Tensor | None,
    reverse: bool,
    masks: StepMasks,
    probes: State | None = None,
    record: bool = True,
) -> tuple[Tensor, State, dict[str, Tensor]]:
    """Run one layer and direction; also return the per-step record.

    The record maps ``"h"`` (and ``"c"``) and each gate name to a (T, B, ·) tensor, in the
    autograd graph. ``probes`` (one (T, B, ·) tensor per state component, zeros) are added to
    the new state at every step, so that ``probe.grad`` is the total dL/ds_t (through the
    output and through the recurrence).
    """
    steps = x.shape[0]
    xw = project_input(spec, x, params)
    valid = None if lengths is None else valid_steps(steps, lengths, x.device)
    outputs: list[Tensor] = [x.new_zeros(())] * steps
    records: dict[str, list[Tensor]] = {}
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    for t in order:
        new_state, gates = spec.step(xw[t], state, params, masks.recurrent)
        if masks.zoneout is not None:
            new_state = tuple(
                m[t] * old + (1 - m[t]) * new
                for m, old, new in zip(masks.zoneout, state, new_state, strict=True)
            )
        if probes is not None:
            new_state = tuple(s + p[t] for s, p in zip(new_state, probes, strict=True))
        if valid is not None:
            keep = valid[t, :, None]
            new_state = tuple(
                torch.where(keep, new, old) for new, old in zip(new_state, state, strict=True)
            )
        state = new_state
        outputs[t] = state[0] if valid is None else state[0] * valid[t, :, None]
        if record:
            for name, value in [*zip(("h", "c"), state, strict=False), *gates.items()]:
                records.setdefault(name, [x.new_zeros(())] * steps)[t] = value
    stacked = {name: torch.stack(values) for name, values in records.items()}
    return torch.stack(outputs), state, stacked


def run(
    spec: CellSpec,
    x: Tensor,
    state: State,
    params: dict[str, Tensor],
    *,
    lengths: Tensor | None,
    reverse: bool,
    masks: StepMasks,
) -> tuple[Tensor, State]:
    """Engine ``run`` (contract in :mod:`rnnlab.nn.engines.base`)."""
    output, final, _ = run_traced(
        spec, x, state, params, lengths=lengths, reverse=reverse, masks=masks
    )
    return output, final


register_engine("reference", run)
