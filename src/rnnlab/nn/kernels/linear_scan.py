"""Chunked parallel scan of the diagonal linear recurrence ``h_t = a_t * h_{t-1} + b_t``.

This is the recurrence behind minGRU and minLSTM (Feng et al. 2024, eq. 4 and 7): their gates
depend on ``x_t`` only, so all ``a_t`` and ``b_t`` are known before the recurrence starts.

Method (two-level chunked scan, no division, so no underflow trouble in float32):

1. Cut time into ``n`` chunks of ``C`` steps. Inside every chunk, run the recurrence from a zero
   state, all chunks at once: ``C`` steps of one fused multiply-add on ``(n, B, H)`` tensors,
   together with the running product ``A_j = a_1 ... a_j`` of the chunk.
2. Carry the state across chunks sequentially: ``n`` steps on ``(B, H)`` tensors.
3. Fix up every position at once: ``h = h_local + A * carry_in``.

With ``C ~ sqrt(T)`` this costs ``O(sqrt(T))`` small Python steps instead of ``T``. Running
products only ever multiply numbers in the same direction as the true recurrence, so when they
underflow to zero the exact answer is below float32 resolution too (the log-space form
``h = A * (h0 + sum b / A)`` divides by them and overflows instead).

The backward pass is the same recurrence run backwards in time (the adjoint of a linear
recurrence is linear): ``g_t = dh_t + a_{t+1} g_{t+1}``, then ``da_t = g_t h_{t-1}``,
``db_t = g_t``, ``dh_0 = a_1 g_1``. It reuses the forward kernel on flipped inputs.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["linear_scan", "linear_scan_sequential"]


def _chunk_size(steps: int) -> int:
    """Chunk length that balances the two sequential loops (about sqrt(T), at least 1)."""
    return max(1, math.isqrt(max(steps, 1)))


def _scan_forward(a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
    """Return all states ``h_1..h_T`` (T, B, H) of ``h_t = a_t h_{t-1} + b_t``; no autograd."""
    steps = a.shape[0]
    chunk = _chunk_size(steps)
    n_chunks = -(-steps // chunk)
    padded = n_chunks * chunk
    if padded != steps:
        # Identity steps (a = 1, b = 0) at the end leave the last real state unchanged.
        pad_shape = (padded - steps, *a.shape[1:])
        a = torch.cat([a, a.new_ones(pad_shape)])
        b = torch.cat([b, b.new_zeros(pad_shape)])
    tail = a.shape[1:]
    a_c = a.reshape(n_chunks, chunk, *tail)
    h_local = b.reshape(n_chunks, chunk, *tail).clone()
    prod = a_c.clone()
    # Step 1: every chunk from a zero state, all chunks in parallel.
    for j in range(1, chunk):
        torch.addcmul(h_local[:, j], a_c[:, j], h_local[:, j - 1], out=h_local[:, j])
        torch.mul(prod[:, j], prod[:, j - 1], out=prod[:, j])
    # Step 2: the state entering each chunk.
    carry = torch.empty((n_chunks, *tail), dtype=a.dtype, device=a.device)
    carry[0] = h0
    for k in range(1, n_chunks):
        torch.addcmul(h_local[k - 1, -1], prod[k - 1, -1], carry[k - 1], out=carry[k])
    # Step 3: add the entering state's contribution everywhere.
    h = torch.addcmul(h_local, prod, carry.unsqueeze(1))
    return h.reshape(padded, *tail)[:steps]


class _LinearScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, h0: Tensor) -> Tensor:  # type: ignore[override]
        h = _scan_forward(a, b, h0)
        ctx.save_for_backward(a, h0, h)
        return h

    @staticmethod
    def backward(ctx, grad_h: Tensor) -> tuple[Tensor, Tensor, Tensor]:  # type: ignore[override]
        a, h0, h = ctx.saved_tensors
        # g_t = dh_t + a_{t+1} g_{t+1}: a forward scan on time-flipped inputs.
        a_next = torch.cat([a[1:], a.new_zeros((1, *a.shape[1:]))])
        g = _scan_forward(a_next.flip(0), grad_h.contiguous().flip(0), torch.zeros_like(h0)).flip(0)
        h_prev = torch.cat([h0.unsqueeze(0), h[:-1]])
        return g * h_prev, g, a[0] * g[0]


def linear_scan(a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
    """All states of ``h_t = a_t * h_{t-1} + b_t`` for t = 1..T, differentiable.

    Args:
        a: decay coefficients, shape (T, B, H).
        b: inputs, shape (T, B, H), same dtype and device as ``a``.
        h0: initial state, shape (B, H).

    Returns:
        ``h`` of shape (T, B, H) with ``h[t]`` the state after step ``t``.
    """
    if a.shape != b.shape or a.dim() != 3 or h0.shape != a.shape[1:]:
        raise ValueError(
            "linear_scan expects a and b of shape (T, B, H) and h0 of shape (B, H); "
            f"got a {tuple(a.shape)}, b {tuple(b.shape)}, h0 {tuple(h0.shape)}"
        )
    if a.shape[0] == 0:
        return b.clone()
    return _LinearScan.apply(a.contiguous(), b.contiguous(), h0.contiguous())


def linear_scan_sequential(a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
    """The same recurrence as a plain time loop (the oracle for tests and benchmarks)."""
    states = []
    h = h0
    for a_t, b_t in zip(a.unbind(0), b.unbind(0), strict=True):
        h = a_t * h + b_t
        states.append(h)
    return torch.stack(states) if states else b.clone()
