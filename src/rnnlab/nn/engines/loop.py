"""The loop engine: a fast time loop for every cell.

Two paths, chosen per call:

- **fused** (``lstm``, ``gru``, ``rnn-tanh``, ``rnn-relu`` without LayerNorm, projection,
  recurrent dropout or zoneout): the input projection for all steps is one GEMM, then a kernel
  of :mod:`rnnlab.nn.kernels` runs the recurrence with a hand-written backward pass (the
  recurrent weight gradient is one GEMM over all steps). Variable lengths are handled the way
  ``PackedSequence`` does: rows sorted by decreasing length, step ``t`` updates only the rows
  still running.
- **generic** (every other cell and option): the cell's own step function from
  :mod:`rnnlab.nn.cells` in an eager loop over ``unbind(0)`` views (never ``x[t]``, whose
  backward is O(T^2)), with autograd. Same equations as the reference engine, without its
  per-step records.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnlab.nn.cells import CellSpec, State, project_input
from rnnlab.nn.engines.base import LayerOptions, StepMasks, register_engine
from rnnlab.nn.engines.native import reverse_within
from rnnlab.nn.kernels.gru import gru_sequence
from rnnlab.nn.kernels.lstm import lstm_sequence
from rnnlab.nn.kernels.rnn import rnn_sequence

FUSED_CELLS = ("lstm", "gru", "rnn-tanh", "rnn-relu")
_GENERIC_ONLY_PARAMS = ("weight_hr", "ln_ih_weight", "ln_hh_weight", "ln_c_weight")


def supports(spec: CellSpec, options: LayerOptions) -> bool:
    """Every cell and option."""
    return True


def is_fused(spec: CellSpec, params: dict[str, Tensor], masks: StepMasks) -> bool:
    """Whether this call takes the fused path (hand-written backward)."""
    return (
        spec.name in FUSED_CELLS
        and masks.recurrent is None
        and masks.zoneout is None
        and not any(name in params for name in _GENERIC_ONLY_PARAMS)
    )


def _fused(
    spec: CellSpec, x: Tensor, state: State, params: dict[str, Tensor], batch_sizes: list[int]
) -> tuple[Tensor, State]:
    """States after every step (T, B, H) (carried past each row's length) and the final state."""
    bias = params.get("bias_ih")
    if spec.name == "gru":
        xp = F.linear(x, params["weight_ih"], bias)
        hs = gru_sequence(xp, state[0], params["weight_hh"], params.get("bias_hh"), batch_sizes)
        return hs, (hs[-1],)
    if bias is not None and "bias_hh" in params:
        bias = bias + params["bias_hh"]
    xp = F.linear(x, params["weight_ih"], bias)
    if spec.name == "lstm":
        hs, c_last = lstm_sequence(xp, state[0], state[1], params["weight_hh"], batch_sizes)
        return hs, (hs[-1], c_last)
    nonlinearity = "relu" if spec.name == "rnn-relu" else "tanh"
    hs = rnn_sequence(xp, state[0], params["weight_hh"], nonlinearity, batch_sizes)
    return hs, (hs[-1],)


def _generic(
    spec: CellSpec,
    x: Tensor,
    state: State,
    params: dict[str, Tensor],
    valid: Tensor | None,
    masks: StepMasks,
) -> tuple[Tensor, State]:
    """Eager loop over the cell's step function; returns carried states (T, B, H) and final."""
    xw = project_input(spec, x, params)
    zoneout = [m.expand(x.shape[0], *m.shape[1:]).unbind(0) for m in masks.zoneout or ()]
    keeps = valid.unbind(0) if valid is not None else [None] * x.shape[0]
    outputs = []
    for t, (xw_t, keep) in enumerate(zip(xw.unbind(0), keeps, strict=True)):
        new_state, _ = spec.step(xw_t, state, params, masks.recurrent)
        if zoneout:
            new_state = tuple(
                m[t] * old + (1 - m[t]) * new
                for m, old, new in zip(zoneout, state, new_state, strict=True)
            )
        if keep is not None:
            new_state = tuple(
                torch.where(keep, new, old) for new, old in zip(new_state, state, strict=True)
            )
        state = new_state
        outputs.append(state[0])
    return torch.stack(outputs), state


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
    steps = x.shape[0]
    if reverse:
        x = reverse_within(x, lengths)
        if masks.zoneout is not None:
            batch = x.shape[1]
            masks = StepMasks(
                recurrent=masks.recurrent,
                zoneout=tuple(
                    reverse_within(m.expand(steps, batch, m.shape[-1]), lengths)
                    for m in masks.zoneout
                ),
            )
    if lengths is not None and bool((lengths == steps).all()):
        lengths = None
    valid = None
    if lengths is not None:
        valid = (torch.arange(steps, device=x.device)[:, None] < lengths.to(x.device))[:, :, None]
    if is_fused(spec, params, masks):
        if lengths is None:
            hs, final = _fused(spec, x, state, params, [x.shape[1]] * steps)
        else:
            order = torch.argsort(lengths.to(x.device), descending=True, stable=True)
            unorder = torch.argsort(order)
            sorted_lengths = lengths.to(x.device)[order]
            batch_sizes = sorted_lengths[None, :] > torch.arange(steps, device=x.device)[:, None]
            hs, final = _fused(
                spec,
                x.index_select(1, order),
                tuple(s.index_select(0, order) for s in state),
                params,
                batch_sizes.sum(1).tolist(),
            )
            hs = hs.index_select(1, unorder)
            final = tuple(s.index_select(0, unorder) for s in final)
    else:
        hs, final = _generic(spec, x, state, params, valid, masks)
    output = hs if valid is None else hs * valid
    if reverse:
        output = reverse_within(output, lengths)
    return output, final


register_engine("loop", run, supports)
