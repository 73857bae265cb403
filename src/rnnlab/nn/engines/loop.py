"""The loop engine: a fast time loop for every cell.

Three paths, the first that applies is taken (:func:`kernel_path`):

- **cpp** (float32/float64 CPU tensors; the cells of :data:`CPP_KERNELS` with every option
  except projection; when the family's C++ library is built, see
  :mod:`rnnlab.nn.kernels.extension`): the input projection for all steps is one GEMM, then ONE
  call runs the whole recurrence in C++ (one BLAS GEMM and one fused gate pass per step) with a
  hand-written BPTT backward.
- **fused** (``lstm``, ``gru``, ``rnn-tanh``, ``rnn-relu`` without LayerNorm, projection,
  recurrent dropout or zoneout; the fallback when no C++ library is available, and the GPU
  path): the same structure in PyTorch operations, in :mod:`rnnlab.nn.kernels`.
- **generic** (everything else): the cell's own step function from
  :mod:`rnnlab.nn.cells` in an eager loop over ``unbind(0)`` views (never ``x[t]``, whose
  backward is O(T^2)), with autograd. Same equations as the reference engine, without its
  per-step records.

The cpp and fused paths handle variable lengths the way ``PackedSequence`` does: rows sorted by
decreasing length, step ``t`` updates only the rows still running. The recurrent weight
gradient is one GEMM over all steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnlab.nn.cells import CellSpec, State, project_input
from rnnlab.nn.engines.base import LayerOptions, StepMasks, register_engine, valid_steps
from rnnlab.nn.engines.native import reverse_within, reverse_zoneout
from rnnlab.nn.kernels import extension
from rnnlab.nn.kernels.gru import gru_sequence
from rnnlab.nn.kernels.gru_cpp import GRUConfig, gru_family_sequence
from rnnlab.nn.kernels.lstm import lstm_sequence
from rnnlab.nn.kernels.lstm_cpp import LSTMConfig, lstm_family_sequence
from rnnlab.nn.kernels.rnn import rnn_sequence
from rnnlab.nn.kernels.rnn_cpp import RNNConfig, rnn_family_sequence

FUSED_CELLS = ("lstm", "gru", "rnn-tanh", "rnn-relu")
_GENERIC_ONLY_PARAMS = ("weight_hr", "ln_ih_weight", "ln_hh_weight", "ln_c_weight")
KernelPath = Literal["cpp", "fused", "generic"]
# A C++ runner gets (spec, x, state, params, masks, batch_sizes) with rows already sorted.
CppRunner = Callable[
    [CellSpec, Tensor, State, dict[str, Tensor], StepMasks, list[int]], tuple[Tensor, State]
]


def supports(spec: CellSpec, options: LayerOptions) -> bool:
    """Every cell and option."""
    return True


def _folded_bias(params: dict[str, Tensor]) -> Tensor | None:
    """b_ih + b_hh, to add once to the input projection (cells whose b_hh is not gated)."""
    bias = params.get("bias_ih")
    if bias is not None and "bias_hh" in params:
        bias = bias + params["bias_hh"]
    return bias


def _input_projection(
    spec: CellSpec, x: Tensor, params: dict[str, Tensor], *, fold_bias_hh: bool = True
) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """``(xp, bias_ih, bias_hh)`` for a C++ kernel: the input projection of all steps as one
    GEMM, and the biases the kernel must add itself (None when folded into xp).

    With the input LayerNorm the kernel normalises the raw ``x W_ih^T`` itself and adds both
    biases; otherwise b_ih (and b_hh, when ``fold_bias_hh`` and no recurrent LayerNorm comes
    between) is folded into xp.
    """
    if "ln_ih_weight" in params:
        return F.linear(x, params["weight_ih"]), params.get("bias_ih"), params.get("bias_hh")
    if fold_bias_hh and "ln_hh_weight" not in params:
        return F.linear(x, params["weight_ih"], _folded_bias(params)), None, None
    return F.linear(x, params["weight_ih"], params.get("bias_ih")), None, params.get("bias_hh")


def _lstm_cpp(
    spec: CellSpec,
    x: Tensor,
    state: State,
    params: dict[str, Tensor],
    masks: StepMasks,
    batch_sizes: list[int],
) -> tuple[Tensor, State]:
    xp, bias_ih, bias_hh = _input_projection(spec, x, params)
    peephole = None
    if spec.peepholes:
        peephole = torch.stack([params["weight_ci"], params["weight_cf"], params["weight_co"]])
    ln_c = None
    if "ln_c_weight" in params:
        ln_c = torch.stack([params["ln_c_weight"], params["ln_c_bias"]])
    zoneout = None  # the h and c keep-masks as one (2, ...) tensor; the wrapper expands it
    if masks.zoneout is not None:
        zoneout = torch.stack(torch.broadcast_tensors(*masks.zoneout))
    config = LSTMConfig(
        batch_sizes=tuple(batch_sizes),
        rec_mask=masks.recurrent,
        zoneout=zoneout,
        cifg=spec.name == "lstm-cifg",
    )
    hs, c_last = lstm_family_sequence(
        xp,
        state[0],
        state[1],
        params["weight_hh"],
        peephole=peephole,
        ln_ih=params.get("ln_ih_weight"),
        bias_ih=bias_ih,
        ln_hh=params.get("ln_hh_weight"),
        bias_hh=bias_hh,
        ln_c=ln_c,
        config=config,
    )
    return hs, (hs[-1], c_last)


def _gru_cpp(
    spec: CellSpec,
    x: Tensor,
    state: State,
    params: dict[str, Tensor],
    masks: StepMasks,
    batch_sizes: list[int],
) -> tuple[Tensor, State]:
    config = GRUConfig(
        batch_sizes=tuple(batch_sizes),
        rec_mask=masks.recurrent,
        zoneout=None if masks.zoneout is None else masks.zoneout[0],
        cho=spec.name == "gru-cho",
    )
    # b_hh is never folded into xp: the torch form multiplies b_hn by the reset gate.
    xp, bias_ih, bias_hh = _input_projection(spec, x, params, fold_bias_hh=False)
    hs = gru_family_sequence(
        xp,
        state[0],
        params["weight_hh"],
        bias_hh=bias_hh,
        ln_hh=params.get("ln_hh_weight"),
        ln_ih=params.get("ln_ih_weight"),
        bias_ih=bias_ih,
        config=config,
    )
    return hs, (hs[-1],)


def _rnn_cpp(
    spec: CellSpec,
    x: Tensor,
    state: State,
    params: dict[str, Tensor],
    masks: StepMasks,
    batch_sizes: list[int],
) -> tuple[Tensor, State]:
    xp, bias_ih, bias_hh = _input_projection(spec, x, params)
    config = RNNConfig(
        batch_sizes=tuple(batch_sizes),
        rec_mask=masks.recurrent,
        zoneout=None if masks.zoneout is None else masks.zoneout[0],
        nonlinearity="tanh" if spec.name == "rnn-tanh" else "relu",
    )
    hs = rnn_family_sequence(
        xp,
        state[0],
        params["weight_hh"],
        ln_hh=params.get("ln_hh_weight"),
        bias_hh=bias_hh,
        ln_ih=params.get("ln_ih_weight"),
        bias_ih=bias_ih,
        config=config,
    )
    return hs, (hs[-1],)


CPP_KERNELS: dict[str, tuple[str, CppRunner]] = {
    "lstm": ("lstm", _lstm_cpp),
    "lstm-peephole": ("lstm", _lstm_cpp),
    "lstm-cifg": ("lstm", _lstm_cpp),
    "gru": ("gru", _gru_cpp),
    "gru-cho": ("gru", _gru_cpp),
    "rnn-tanh": ("rnn", _rnn_cpp),
    "rnn-relu": ("rnn", _rnn_cpp),
    "indrnn": ("rnn", _rnn_cpp),
}
"""Cell name -> (C++ library family, runner)."""


def kernel_path(
    spec: CellSpec, params: dict[str, Tensor], masks: StepMasks, x: Tensor
) -> KernelPath:
    """Which path a call with input ``x`` takes: ``"cpp"``, ``"fused"`` (PyTorch), ``"generic"``."""
    if (
        spec.name in CPP_KERNELS
        and "weight_hr" not in params
        and extension.can_run(CPP_KERNELS[spec.name][0], x)
    ):
        return "cpp"
    if (
        spec.name in FUSED_CELLS
        and masks.recurrent is None
        and masks.zoneout is None
        and not any(name in params for name in _GENERIC_ONLY_PARAMS)
    ):
        return "fused"
    return "generic"


def _fused(
    spec: CellSpec,
    x: Tensor,
    state: State,
    params: dict[str, Tensor],
    masks: StepMasks,
    batch_sizes: list[int],
) -> tuple[Tensor, State]:
    """States after every step (T, B, H) (carried past each row's length) and the final state."""
    if spec.name == "gru":
        xp = F.linear(x, params["weight_ih"], params.get("bias_ih"))
        hs = gru_sequence(xp, state[0], params["weight_hh"], params.get("bias_hh"), batch_sizes)
        return hs, (hs[-1],)
    xp = F.linear(x, params["weight_ih"], _folded_bias(params))
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


def _sorted_masks(masks: StepMasks, order: Tensor, steps: int) -> StepMasks:
    """The masks with their batch rows in ``order``."""
    return StepMasks(
        recurrent=None if masks.recurrent is None else masks.recurrent.index_select(0, order),
        zoneout=None
        if masks.zoneout is None
        else tuple(
            m.expand(steps, len(order), m.shape[-1]).index_select(1, order) for m in masks.zoneout
        ),
    )


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
        masks = reverse_zoneout(masks, x.shape[:2], lengths)
        x = reverse_within(x, lengths)
    if lengths is not None and bool((lengths == steps).all()):
        lengths = None
    valid = None if lengths is None else valid_steps(steps, lengths, x.device)[:, :, None]
    path = kernel_path(spec, params, masks, x)
    if path == "generic":
        hs, final = _generic(spec, x, state, params, valid, masks)
    else:
        kernel = CPP_KERNELS[spec.name][1] if path == "cpp" else _fused
        if lengths is None:
            hs, final = kernel(spec, x, state, params, masks, [x.shape[1]] * steps)
        else:
            # Sort rows by decreasing length (as PackedSequence), run, put the rows back.
            order = torch.argsort(lengths.to(x.device), descending=True, stable=True)
            unorder = torch.argsort(order)
            sorted_lengths = lengths.to(x.device)[order]
            batch_sizes = sorted_lengths[None, :] > torch.arange(steps, device=x.device)[:, None]
            hs, final = kernel(
                spec,
                x.index_select(1, order),
                tuple(s.index_select(0, order) for s in state),
                params,
                _sorted_masks(masks, order, steps),
                batch_sizes.sum(1).tolist(),
            )
            hs = hs.index_select(1, unorder)
            final = tuple(s.index_select(0, unorder) for s in final)
    output = hs if valid is None else hs * valid
    if reverse:
        output = reverse_within(output, lengths)
    return output, final


register_engine("loop", run, supports)
