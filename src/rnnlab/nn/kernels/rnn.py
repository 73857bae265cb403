"""Elman RNN time loop (tanh or ReLU) with a hand-written backward pass.

``h_t = act(xp_t + W_hh h_{t-1})`` with ``xp_t = W_ih x_t + b_ih + b_hh`` precomputed for all
steps. Backward per step: ``dpre = dh ⊙ act'`` (act' from the stored outputs, for all steps at
once) and ``dh_{t-1} = dpre W_hh``; ``dW_hh`` is one GEMM at the end. ``batch_sizes`` works as in
:mod:`rnnlab.nn.kernels.lstm`.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["rnn_sequence"]


class _RNNSequence(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx, xp: Tensor, h0: Tensor, weight_hh: Tensor, relu: bool, batch_sizes: list[int]
    ) -> Tensor:
        steps, batch, hidden = xp.shape
        hs = xp.new_empty((steps + 1, batch, hidden))
        hs[0] = h0
        w_t = weight_hh.t()
        for t, n in enumerate(batch_sizes):
            h = torch.addmm(xp[t, :n], hs[t, :n], w_t, out=hs[t + 1, :n])
            h.relu_() if relu else h.tanh_()
            if n < batch:
                hs[t + 1, n:] = hs[t, n:]
        ctx.batch_sizes, ctx.relu = batch_sizes, relu
        ctx.save_for_backward(hs, weight_hh)
        return hs[1:]

    @staticmethod
    def backward(ctx, grad_hs: Tensor):  # type: ignore[override]
        hs, weight_hh = ctx.saved_tensors
        out = hs[1:]
        slope = (out > 0).to(out.dtype) if ctx.relu else 1 - out * out
        dpre = torch.zeros_like(out)
        dh = torch.zeros_like(hs[0])
        for t in range(out.shape[0] - 1, -1, -1):
            n = ctx.batch_sizes[t]
            if grad_hs is not None:
                dh += grad_hs[t]
            torch.mul(dh[:n], slope[t, :n], out=dpre[t, :n])
            torch.mm(dpre[t, :n], weight_hh, out=dh[:n])
        grad_w = dpre.reshape(-1, out.shape[2]).t().mm(hs[:-1].reshape(-1, out.shape[2]))
        return dpre, dh, grad_w, None, None


def rnn_sequence(
    xp: Tensor,
    h0: Tensor,
    weight_hh: Tensor,
    nonlinearity: str = "tanh",
    batch_sizes: list[int] | None = None,
) -> Tensor:
    """Run the Elman recurrence over precomputed input projections (T, B, H); returns hs (T, B, H).

    ``nonlinearity`` is ``"tanh"`` or ``"relu"``; ``batch_sizes`` as in ``lstm_sequence``.
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    steps, batch = xp.shape[:2]
    sizes = [batch] * steps if batch_sizes is None else list(batch_sizes)
    return _RNNSequence.apply(xp.contiguous(), h0, weight_hh, nonlinearity == "relu", sizes)
