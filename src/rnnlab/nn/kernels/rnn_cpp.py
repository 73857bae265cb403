"""Elman-family recurrence (rnn-tanh, rnn-relu, indrnn) through the C++ extension.

One autograd node per sequence: ``rnn_forward`` runs every step in C++ (one GEMM and one fused
element-wise pass per step; IndRNN's element-wise recurrence needs no GEMM) and
``rnn_backward`` is the hand-written BPTT of ``csrc/rnn.cpp``, which also covers LayerNorm of
the recurrent projection, variational recurrent dropout and zoneout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from rnnlab.nn.kernels.extension import ops, refuse_double_backward

__all__ = ["RNNConfig", "rnn_family_sequence"]


@dataclass(frozen=True)
class RNNConfig:
    """The parts of one call that are not differentiated.

    Attributes:
        batch_sizes: active rows per step (non-increasing), or () for all rows at every step.
        rec_mask: recurrent-dropout mask (already scaled) broadcastable to (B, H), or None.
        zoneout: keep-mask of h broadcastable to (T, B, H), or None.
        nonlinearity: ``"tanh"`` or ``"relu"`` (IndRNN is ``"relu"``).
    """

    batch_sizes: tuple[int, ...] = ()
    rec_mask: Tensor | None = None
    zoneout: Tensor | None = None
    nonlinearity: Literal["tanh", "relu"] = "tanh"

    def __post_init__(self) -> None:
        if self.nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {self.nonlinearity!r}")


def _dense(mask: Tensor | None, shape: tuple[int, ...], like: Tensor) -> Tensor | None:
    """``mask`` expanded to ``shape`` as a contiguous tensor of ``like``'s dtype (the kernel
    reads it element by element)."""
    if mask is None:
        return None
    return mask.to(like.dtype).expand(shape).contiguous()


class _RNNFamily(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx,
        xp: Tensor,
        h0: Tensor,
        weight_hh: Tensor,
        ln_hh: Tensor | None,
        bias_hh: Tensor | None,
        config: RNNConfig,
        rec_mask: Tensor | None,
        zoneout: Tensor | None,
    ) -> Tensor:
        keep = any(ctx.needs_input_grad)
        relu = config.nonlinearity == "relu"
        saved = ops("rnn").rnn_forward(
            xp, h0, weight_hh, list(config.batch_sizes), rec_mask, zoneout, ln_hh, bias_hh,
            relu, keep,
        )  # fmt: skip
        if keep:
            ctx.batch_sizes, ctx.relu = list(config.batch_sizes), relu
            ctx.save_for_backward(weight_hh, ln_hh, bias_hh, rec_mask, zoneout, *saved)
        return saved[0][1:]

    @staticmethod
    def backward(ctx, grad_hs: Tensor | None):  # type: ignore[override]
        refuse_double_backward()
        weight_hh, ln_hh, bias_hh, rec_mask, zoneout, *saved = ctx.saved_tensors
        dxp, dh0, dw, dln, dbias = ops("rnn").rnn_backward(
            grad_hs, saved, weight_hh, ctx.batch_sizes, rec_mask, zoneout, ln_hh, bias_hh,
            ctx.relu,
        )  # fmt: skip
        return (
            dxp,
            dh0,
            dw,
            dln if ln_hh is not None else None,
            dbias if bias_hh is not None else None,
            None,
            None,
            None,
        )


def rnn_family_sequence(
    xp: Tensor,
    h0: Tensor,
    weight_hh: Tensor,
    *,
    ln_hh: Tensor | None = None,
    bias_hh: Tensor | None = None,
    config: RNNConfig = RNNConfig(),
) -> Tensor:
    """Run an Elman-family recurrence over precomputed input projections (C++ kernels).

    Args:
        xp: (T, B, H) input projections with b_ih folded in (and b_hh, when it is not passed).
        h0: (B, H) initial state.
        weight_hh: (H, H) for rnn-tanh / rnn-relu, or IndRNN's (H,) vector u (element-wise
            recurrence u ⊙ h_{t-1}).
        ln_hh: (H,) LayerNorm gain of the recurrent projection h W_hh^T, or None (matrix
            weight only).
        bias_hh: (H,) added after the recurrent term (after its LayerNorm), or None when it is
            folded into ``xp``.
        config: batch sizes, masks and the nonlinearity (not differentiated).

    Returns:
        hs (T, B, H): the state after each step; rows past their length repeat their last
        state.
    """
    steps, batch, hidden = xp.shape
    return _RNNFamily.apply(
        xp.contiguous(), h0.contiguous(), weight_hh.contiguous(), ln_hh, bias_hh, config,
        _dense(config.rec_mask, (batch, hidden), xp),
        _dense(config.zoneout, (steps, batch, hidden), xp),
    )  # fmt: skip
