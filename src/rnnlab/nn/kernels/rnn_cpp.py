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

from rnnlab.nn.kernels.extension import (
    contiguous,
    dense,
    needs_autograd,
    ops,
    refuse_double_backward,
)

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


def _forward(
    xp: Tensor,
    h0: Tensor,
    weight_hh: Tensor,
    ln_hh: Tensor | None,
    bias_hh: Tensor | None,
    config: RNNConfig,
    rec_mask: Tensor | None,
    zoneout: Tensor | None,
    *,
    keep: bool,
) -> list[Tensor]:
    """The C++ forward; ``keep`` stores every step's activations for the backward."""
    return ops("rnn").rnn_forward(
        xp, h0, weight_hh, list(config.batch_sizes), rec_mask, zoneout, ln_hh, bias_hh,
        config.nonlinearity == "relu", keep,
    )  # fmt: skip


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
        saved = _forward(xp, h0, weight_hh, ln_hh, bias_hh, config, rec_mask, zoneout, keep=True)
        ctx.batch_sizes, ctx.relu = list(config.batch_sizes), config.nonlinearity == "relu"
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
    tensors = contiguous(xp, h0, weight_hh, ln_hh, bias_hh)
    masks = (
        dense(config.rec_mask, (batch, hidden), xp),
        dense(config.zoneout, (steps, batch, hidden), xp),
    )
    if needs_autograd(*tensors):
        return _RNNFamily.apply(*tensors, config, *masks)
    return _forward(*tensors, config, *masks, keep=False)[0][1:]
