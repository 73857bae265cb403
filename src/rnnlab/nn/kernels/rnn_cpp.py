"""Elman-family recurrence (rnn-tanh, rnn-relu, indrnn) through the C++ extension.

One autograd node per sequence: ``rnn_forward`` runs every step in C++ (one GEMM and one fused
element-wise pass per step; IndRNN's element-wise recurrence needs no GEMM) and
``rnn_backward`` is the hand-written BPTT of ``csrc/rnn.cpp``, which also covers LayerNorm of
the input and of the recurrent projection, variational recurrent dropout and zoneout. The input
LayerNorm runs per step inside the kernel, on the raw projection x W_ih^T, so it builds no
autograd graph of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from rnnlab.nn.kernels.extension import (
    KernelConfig,
    contiguous,
    dense,
    needs_autograd,
    refuse_double_backward,
    require_ops,
)

__all__ = ["RNNConfig", "rnn_family_sequence"]


@dataclass(frozen=True)
class RNNConfig(KernelConfig):
    """The non-differentiated parts of one call: those of :class:`KernelConfig`, and

    Attributes:
        zoneout: keep-mask of h broadcastable to (T, B, H), or None.
        nonlinearity: ``"tanh"`` or ``"relu"`` (IndRNN is ``"relu"``).
    """

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
    ln_ih: Tensor | None,
    bias_ih: Tensor | None,
    config: RNNConfig,
    rec_mask: Tensor | None,
    zoneout: Tensor | None,
    *,
    keep: bool,
) -> list[Tensor]:
    """The C++ forward; ``keep`` stores every step's activations for the backward."""
    return require_ops("rnn").rnn_forward(
        xp, h0, weight_hh, list(config.batch_sizes), rec_mask, zoneout, ln_hh, bias_hh, ln_ih,
        bias_ih, config.nonlinearity == "relu", keep,
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
        ln_ih: Tensor | None,
        bias_ih: Tensor | None,
        config: RNNConfig,
        rec_mask: Tensor | None,
        zoneout: Tensor | None,
    ) -> Tensor:
        vectors = (ln_hh, bias_hh, ln_ih, bias_ih)
        saved = _forward(xp, h0, weight_hh, *vectors, config, rec_mask, zoneout, keep=True)
        ctx.batch_sizes, ctx.relu = list(config.batch_sizes), config.nonlinearity == "relu"
        ctx.save_for_backward(weight_hh, *vectors, rec_mask, zoneout, *saved)
        return saved[0][1:]

    @staticmethod
    def backward(ctx, grad_hs: Tensor | None):  # type: ignore[override]
        refuse_double_backward()
        weight_hh, *vectors, rec_mask, zoneout = ctx.saved_tensors[:7]
        dxp, dh0, dw, *dvectors = require_ops("rnn").rnn_backward(
            grad_hs, ctx.saved_tensors[7:], weight_hh, ctx.batch_sizes, rec_mask, zoneout,
            *vectors, ctx.relu,
        )  # fmt: skip
        grads = [d if v is not None else None for d, v in zip(dvectors, vectors, strict=True)]
        return dxp, dh0, dw, *grads, None, None, None


def rnn_family_sequence(
    xp: Tensor,
    h0: Tensor,
    weight_hh: Tensor,
    *,
    ln_hh: Tensor | None = None,
    bias_hh: Tensor | None = None,
    ln_ih: Tensor | None = None,
    bias_ih: Tensor | None = None,
    config: RNNConfig = RNNConfig(),
) -> Tensor:
    """Run an Elman-family recurrence over precomputed input projections (C++ kernels).

    Args:
        xp: (T, B, H) input projections x W_ih^T: raw when ``ln_ih`` is given, otherwise
            with any bias not passed here (b_ih, and b_hh without LayerNorm) folded in.
        h0: (B, H) initial state.
        weight_hh: (H, H) for rnn-tanh / rnn-relu, or IndRNN's (H,) vector u (element-wise
            recurrence u ⊙ h_{t-1}).
        ln_hh: (H,) LayerNorm gain of the recurrent projection h W_hh^T, or None (matrix
            weight only).
        bias_hh: (H,) added after the recurrent term (after its LayerNorm), or None when it is
            folded into ``xp``.
        ln_ih: (H,) LayerNorm gain of the input projection: each step and row uses
            LN(xp_t) * ln_ih (+ bias_ih) in place of xp_t. None: xp_t as it is.
        bias_ih: (H,) added after the input term (after its LayerNorm), or None when it is
            folded into ``xp``.
        config: batch sizes, masks and the nonlinearity (not differentiated).

    Returns:
        hs (T, B, H): the state after each step; rows past their length repeat their last
        state.
    """
    steps, batch, hidden = xp.shape
    tensors = contiguous(xp, h0, weight_hh, ln_hh, bias_hh, ln_ih, bias_ih)
    masks = (
        dense(config.rec_mask, (batch, hidden), xp),
        dense(config.zoneout, (steps, batch, hidden), xp),
    )
    if needs_autograd(*tensors):
        return _RNNFamily.apply(*tensors, config, *masks)
    return _forward(*tensors, config, *masks, keep=False)[0][1:]
