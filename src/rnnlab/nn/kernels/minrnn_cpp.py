"""minGRU / minLSTM recurrence through the C++ extension (the scan engine's CPU path).

One autograd node per sequence: ``minrnn_forward`` turns the input projection into the
coefficients of ``h_t = a_t h_{t-1} + b_t`` and runs the recurrence in one pass, every (row,
block of units) on its own thread; ``minrnn_backward`` recomputes the coefficients and walks time
backwards (``csrc/minrnn.cpp``). Zoneout and variable lengths (padded steps are identity steps)
are handled inside.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.nn.kernels.extension import (
    contiguous,
    dense,
    needs_autograd,
    refuse_double_backward,
    require_ops,
)

__all__ = ["min_recurrence"]


class _MinRecurrence(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx, xw: Tensor, h0: Tensor, lengths: list[int], zoneout: Tensor | None, lstm: bool
    ) -> Tensor:
        hs = require_ops("minrnn").minrnn_forward(xw, h0, lengths, zoneout, lstm)
        ctx.lengths, ctx.lstm = lengths, lstm
        ctx.save_for_backward(xw, h0, hs, zoneout)
        return hs

    @staticmethod
    def backward(ctx, grad_hs: Tensor):  # type: ignore[override]
        refuse_double_backward()
        xw, h0, hs, zoneout = ctx.saved_tensors
        dxw, dh0 = require_ops("minrnn").minrnn_backward(
            grad_hs.contiguous(), xw, h0, hs, ctx.lengths, zoneout, ctx.lstm
        )
        return dxw, dh0, None, None, None


def min_recurrence(
    xw: Tensor,
    h0: Tensor,
    *,
    lstm: bool,
    lengths: Tensor | None = None,
    zoneout: Tensor | None = None,
) -> Tensor:
    """All states of minGRU (``lstm=False``) or minLSTM (``lstm=True``), C++ kernels.

    Args:
        xw: (T, B, G*H) input projections x W^T + b, gates (z, n) for minGRU and (i, f, g) for
            minLSTM.
        h0: (B, H) initial state.
        lstm: minLSTM when True, minGRU when False.
        lengths: (B,) valid steps per row (any order), or None for all T; steps past a row's
            length leave its state unchanged.
        zoneout: keep-mask of h broadcastable to (T, B, H), or None.

    Returns:
        hs (T, B, H): the state after each step.
    """
    steps, batch, width = xw.shape
    hidden = h0.shape[-1]
    if width != (3 if lstm else 2) * hidden:
        raise ValueError(
            f"xw's last size must be {'3' if lstm else '2'} * hidden = "
            f"{(3 if lstm else 2) * hidden}, got {width}"
        )
    xw, h0 = contiguous(xw, h0)
    mask = dense(zoneout, (steps, batch, hidden), xw)
    rows = [] if lengths is None else lengths.tolist()
    if needs_autograd(xw, h0):
        return _MinRecurrence.apply(xw, h0, rows, mask, lstm)
    return require_ops("minrnn").minrnn_forward(xw, h0, rows, mask, lstm)
