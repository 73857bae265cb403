"""LSTM time loop with a hand-written backward pass (BPTT), for one layer and direction.

Equations (torch gate order i, f, g, o; Hochreiter & Schmidhuber 1997, Gers et al. 2000)::

    [i, f, g, o] = [σ, σ, tanh, σ](xp_t + W_hh h_{t-1})      xp_t = W_ih x_t + b_ih + b_hh
    c_t = f ⊙ c_{t-1} + i ⊙ g
    h_t = o ⊙ tanh(c_t)

Why a custom autograd function: autograd records ~10 nodes per step and replays them one by
one; here the forward keeps only the gate activations, and the backward walks time in reverse
with 6 tensor operations per step. The input projection (all steps at once) is done by the
caller as one GEMM, and the recurrent weight gradient is ONE GEMM over all steps at the end:
``dW_hh = sum_t dgates_t^T h_{t-1}``.

Variable lengths use ``batch_sizes`` (rows sorted by decreasing length, as in a
``PackedSequence``): step ``t`` updates only the first ``batch_sizes[t]`` rows, the others keep
their state, so the state after the loop is each sequence's final state.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["lstm_sequence"]


class _LSTMSequence(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx, xp: Tensor, h0: Tensor, c0: Tensor, weight_hh: Tensor, batch_sizes: list[int]
    ) -> tuple[Tensor, Tensor]:
        steps, batch, four_h = xp.shape
        hidden = four_h // 4
        new = xp.new_zeros if batch_sizes[-1] < batch else xp.new_empty
        acts = new((steps, batch, four_h))
        tanh_c = new((steps, batch, hidden))
        hs = xp.new_empty((steps + 1, batch, hidden))
        cs = xp.new_empty((steps + 1, batch, hidden))
        hs[0], cs[0] = h0, c0
        w_t = weight_hh.t()
        for t, n in enumerate(batch_sizes):
            a = acts[t, :n]
            torch.addmm(xp[t, :n], hs[t, :n], w_t, out=a)
            a[:, : 2 * hidden].sigmoid_()
            a[:, 2 * hidden : 3 * hidden].tanh_()
            a[:, 3 * hidden :].sigmoid_()
            c = cs[t + 1, :n]
            torch.mul(a[:, hidden : 2 * hidden], cs[t, :n], out=c)
            c.addcmul_(a[:, :hidden], a[:, 2 * hidden : 3 * hidden])
            torch.tanh(c, out=tanh_c[t, :n])
            torch.mul(a[:, 3 * hidden :], tanh_c[t, :n], out=hs[t + 1, :n])
            if n < batch:
                hs[t + 1, n:] = hs[t, n:]
                cs[t + 1, n:] = cs[t, n:]
        ctx.batch_sizes = batch_sizes
        ctx.save_for_backward(acts, tanh_c, hs, cs, weight_hh)
        return hs[1:], cs[-1]

    @staticmethod
    def backward(ctx, grad_hs: Tensor, grad_c_last: Tensor):  # type: ignore[override]
        acts, tanh_c, hs, cs, weight_hh = ctx.saved_tensors
        steps, _, four_h = acts.shape
        hidden = four_h // 4
        i, f, g, o = acts.split(hidden, dim=2)
        # Everything that does not depend on the incoming gradient, for all steps at once:
        # dgate_o = dh * q, dc += dh * k, [dgate_i, dgate_f, dgate_g] = dc * p.
        q = tanh_c * o * (1 - o)
        k = o * (1 - tanh_c * tanh_c)
        p = torch.cat([g * i * (1 - i), cs[:-1] * f * (1 - f), i * (1 - g * g)], dim=2)
        dgates = torch.zeros_like(acts)
        dh = torch.zeros_like(hs[0])
        dc = grad_c_last.clone() if grad_c_last is not None else torch.zeros_like(dh)
        for t in range(steps - 1, -1, -1):
            n = ctx.batch_sizes[t]
            if grad_hs is not None:
                dh += grad_hs[t]
            dh_t, dc_t, dg = dh[:n], dc[:n], dgates[t, :n]
            torch.mul(dh_t, q[t, :n], out=dg[:, 3 * hidden :])
            dc_t.addcmul_(dh_t, k[t, :n])
            torch.mul(
                p[t, :n].view(n, 3, hidden),
                dc_t.unsqueeze(1),
                out=dg[:, : 3 * hidden].view(n, 3, hidden),
            )
            dc_t.mul_(f[t, :n])
            torch.mm(dg, weight_hh, out=dh_t)
        grad_w = dgates.reshape(-1, four_h).t().mm(hs[:-1].reshape(-1, hidden))
        return dgates, dh, dc, grad_w, None


def lstm_sequence(
    xp: Tensor,
    h0: Tensor,
    c0: Tensor,
    weight_hh: Tensor,
    batch_sizes: list[int] | None = None,
) -> tuple[Tensor, Tensor]:
    """Run the LSTM recurrence over precomputed input projections.

    Args:
        xp: ``x_t W_ih^T + b_ih + b_hh`` for every step, shape (T, B, 4H), gates i, f, g, o.
        h0, c0: initial states (B, H).
        weight_hh: recurrent weight (4H, H).
        batch_sizes: active rows per step (non-increasing, rows sorted by decreasing length);
            None means all B rows at every step.

    Returns:
        ``(hs, c_last)``: hs (T, B, H) is the state after each step (rows past their length
        repeat their final state), c_last (B, H) the final cell state of every row.
    """
    steps, batch = xp.shape[:2]
    sizes = [batch] * steps if batch_sizes is None else list(batch_sizes)
    return _LSTMSequence.apply(xp.contiguous(), h0, c0, weight_hh, sizes)
