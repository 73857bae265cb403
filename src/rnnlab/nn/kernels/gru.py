"""GRU time loop (torch/cuDNN form) with a hand-written backward pass, one layer and direction.

Equations (Cho et al. 2014, with the reset gate applied after the matmul as in torch)::

    r = σ(xp_r + W_hr h + b_hr)       xp = W_ih x_t + b_ih   (gates r, z, n)
    z = σ(xp_z + W_hz h + b_hz)
    n = tanh(xp_n + r ⊙ (W_hn h + b_hn))
    h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}

Every per-step gradient is the incoming ``dh`` times a factor known after the forward pass, so
the backward computes those factors for all steps at once and then needs only four tensor
operations per step: ``[dr, dz, dn·r, dn] = dh ⊙ M_t`` (one multiply),
``dh_{t-1} = dh ⊙ z + [dr, dz, dn·r] W_hh`` (one in-place scale, one addmm). The recurrent
weight gradient is one GEMM over all steps. ``batch_sizes`` works as in
:mod:`rnnlab.nn.kernels.lstm`.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["gru_sequence"]


class _GRUSequence(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx, xp: Tensor, h0: Tensor, weight_hh: Tensor, bias_hh: Tensor, batch_sizes: list[int]
    ) -> Tensor:
        steps, batch, three_h = xp.shape
        hidden = three_h // 3
        new = xp.new_zeros if batch_sizes[-1] < batch else xp.new_empty
        acts = new((steps, batch, three_h))  # r, z, n
        hh = new((steps, batch, three_h))  # W_hh h + b_hh
        hs = xp.new_empty((steps + 1, batch, hidden))
        hs[0] = h0
        w_t = weight_hh.t()
        for t, n in enumerate(batch_sizes):
            a, hh_t, h_prev, h = acts[t, :n], hh[t, :n], hs[t, :n], hs[t + 1, :n]
            torch.addmm(bias_hh, h_prev, w_t, out=hh_t)
            rz = a[:, : 2 * hidden]
            torch.add(xp[t, :n, : 2 * hidden], hh_t[:, : 2 * hidden], out=rz).sigmoid_()
            cand = a[:, 2 * hidden :]
            torch.addcmul(
                xp[t, :n, 2 * hidden :], rz[:, :hidden], hh_t[:, 2 * hidden :], out=cand
            ).tanh_()
            torch.sub(h_prev, cand, out=h)
            h.mul_(rz[:, hidden:]).add_(cand)
            if n < batch:
                hs[t + 1, n:] = hs[t, n:]
        ctx.batch_sizes = batch_sizes
        ctx.save_for_backward(acts, hh, hs, weight_hh)
        return hs[1:]

    @staticmethod
    def backward(ctx, grad_hs: Tensor):  # type: ignore[override]
        acts, hh, hs, weight_hh = ctx.saved_tensors
        steps, _, three_h = acts.shape
        hidden = three_h // 3
        r, z, cand = acts.split(hidden, dim=2)
        dn_pre = (1 - z) * (1 - cand * cand)  # d(pre-activation of n) per unit dh
        factors = torch.cat(
            [
                dn_pre * hh[..., 2 * hidden :] * r * (1 - r),
                (hs[:-1] - cand) * z * (1 - z),
                dn_pre * r,
                dn_pre,
            ],
            dim=2,
        )
        grads = torch.zeros_like(factors)  # [dr, dz, dn·r, dn] pre-activation gradients
        dh = torch.zeros_like(hs[0])
        for t in range(steps - 1, -1, -1):
            n = ctx.batch_sizes[t]
            if grad_hs is not None:
                dh += grad_hs[t]
            dh_t, g = dh[:n], grads[t, :n]
            torch.mul(
                factors[t, :n].view(n, 4, hidden), dh_t.unsqueeze(1), out=g.view(n, 4, hidden)
            )
            dh_t.mul_(z[t, :n])
            dh_t.addmm_(g[:, : 3 * hidden], weight_hh)
        grad_hh = grads[..., : 3 * hidden].reshape(-1, three_h)
        grad_w = grad_hh.t().mm(hs[:-1].reshape(-1, hidden))
        grad_xp = torch.cat([grads[..., : 2 * hidden], grads[..., 3 * hidden :]], dim=2)
        return grad_xp, dh, grad_w, grad_hh.sum(0), None


def gru_sequence(
    xp: Tensor,
    h0: Tensor,
    weight_hh: Tensor,
    bias_hh: Tensor | None,
    batch_sizes: list[int] | None = None,
) -> Tensor:
    """Run the GRU recurrence over precomputed input projections.

    Args:
        xp: ``x_t W_ih^T + b_ih`` for every step, shape (T, B, 3H), gates r, z, n.
        h0: initial state (B, H).
        weight_hh: recurrent weight (3H, H); bias_hh: (3H,) or None.
        batch_sizes: active rows per step (non-increasing); None means all rows.

    Returns:
        hs (T, B, H): the state after each step (rows past their length repeat their last state).
    """
    steps, batch, three_h = xp.shape
    sizes = [batch] * steps if batch_sizes is None else list(batch_sizes)
    if bias_hh is None:
        bias_hh = xp.new_zeros(three_h)
    return _GRUSequence.apply(xp.contiguous(), h0, weight_hh, bias_hh, sizes)
