"""GRU-family recurrence (gru, gru-cho) through the C++ extension (:mod:`.extension`).

One autograd node per sequence: ``gru_forward`` runs every step in C++ (the torch form does one
GEMM and one fused gate pass per step; the Cho form two of each, since its second product needs
the reset gate) and ``gru_backward`` is the hand-written BPTT of ``csrc/gru.cpp``, which also
covers LayerNorm of the input and of the recurrent projection (per gate block), variational
recurrent dropout and zoneout.
"""

from __future__ import annotations

from dataclasses import dataclass

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

__all__ = ["GRUConfig", "gru_family_sequence"]


@dataclass(frozen=True)
class GRUConfig(KernelConfig):
    """The non-differentiated parts of one call: those of :class:`KernelConfig`, and

    Attributes:
        zoneout: keep-mask of h broadcastable to (T, B, H), or None.
        cho: the Cho et al. form (``gru-cho``: reset gate applied before the n-block product)
            instead of torch's.
    """

    cho: bool = False


def _forward(
    xp: Tensor,
    h0: Tensor,
    weight_hh: Tensor,
    bias_hh: Tensor | None,
    ln_hh: Tensor | None,
    ln_ih: Tensor | None,
    bias_ih: Tensor | None,
    config: GRUConfig,
    rec_mask: Tensor | None,
    zoneout: Tensor | None,
    *,
    keep: bool,
) -> list[Tensor]:
    """The C++ forward; ``keep`` stores every step's activations for the backward."""
    return require_ops("gru").gru_forward(
        xp, h0, weight_hh, list(config.batch_sizes), rec_mask, zoneout, ln_hh, bias_hh, ln_ih,
        bias_ih, config.cho, keep,
    )  # fmt: skip


class _GRUFamily(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx,
        xp: Tensor,
        h0: Tensor,
        weight_hh: Tensor,
        bias_hh: Tensor | None,
        ln_hh: Tensor | None,
        ln_ih: Tensor | None,
        bias_ih: Tensor | None,
        config: GRUConfig,
        rec_mask: Tensor | None,
        zoneout: Tensor | None,
    ) -> Tensor:
        saved = _forward(
            xp, h0, weight_hh, bias_hh, ln_hh, ln_ih, bias_ih, config, rec_mask, zoneout,
            keep=True,
        )  # fmt: skip
        ctx.batch_sizes, ctx.cho = list(config.batch_sizes), config.cho
        ctx.save_for_backward(weight_hh, bias_hh, ln_hh, ln_ih, bias_ih, rec_mask, zoneout, *saved)
        return saved[0][1:]

    @staticmethod
    def backward(ctx, grad_hs: Tensor | None):  # type: ignore[override]
        refuse_double_backward()
        weight_hh, bias_hh, ln_hh, ln_ih, bias_ih, rec_mask, zoneout, *saved = ctx.saved_tensors
        dxp, dh0, dw, dln_hh, dbias_hh, dln_ih, dbias_ih = require_ops("gru").gru_backward(
            grad_hs, saved, weight_hh, ctx.batch_sizes, rec_mask, zoneout, ln_hh, bias_hh, ln_ih,
            bias_ih, ctx.cho,
        )  # fmt: skip
        return (
            dxp,
            dh0,
            dw,
            dbias_hh if bias_hh is not None else None,
            dln_hh if ln_hh is not None else None,
            dln_ih if ln_ih is not None else None,
            dbias_ih if bias_ih is not None else None,
            None,
            None,
            None,
        )


def gru_family_sequence(
    xp: Tensor,
    h0: Tensor,
    weight_hh: Tensor,
    *,
    bias_hh: Tensor | None = None,
    ln_hh: Tensor | None = None,
    ln_ih: Tensor | None = None,
    bias_ih: Tensor | None = None,
    config: GRUConfig = GRUConfig(),
) -> Tensor:
    """Run a GRU-family recurrence over precomputed input projections (C++ kernels).

    Args:
        xp: (T, B, 3H) input projections ``x W_ih^T``, gates r, z, n. Without ``ln_ih``,
            b_ih may be folded in here instead of passed as ``bias_ih``; b_hh is NOT folded in:
            the torch form multiplies b_hn by the reset gate.
        h0: (B, H) initial state.
        weight_hh: (3H, H) recurrent weight, blocks r, z, n.
        bias_hh: (3H,) recurrent bias, added after the LayerNorm of the recurrent projection,
            or None.
        ln_hh: (3H,) LayerNorm gain of the recurrent projection, normalised per gate block, or
            None.
        ln_ih: (3H,) LayerNorm gain of the input projection: the kernel normalises ``xp`` per
            gate block and step (``cells.project_input``), or None.
        bias_ih: (3H,) input bias, added to ``xp`` (after its LayerNorm), or None.
        config: batch sizes, masks and the form (not differentiated).

    Returns:
        hs (T, B, H): the state after each step; rows past their length repeat their last
        state.
    """
    steps, batch, _ = xp.shape
    hidden = h0.shape[-1]
    tensors = (xp, h0, weight_hh, bias_hh, ln_hh, ln_ih, bias_ih)
    xp, h0, weight_hh, bias_hh, ln_hh, ln_ih, bias_ih = contiguous(*tensors)
    rec_mask = dense(config.rec_mask, (batch, hidden), xp)
    zoneout = dense(config.zoneout, (steps, batch, hidden), xp)
    args = (xp, h0, weight_hh, bias_hh, ln_hh, ln_ih, bias_ih, config, rec_mask, zoneout)
    if needs_autograd(*tensors):
        return _GRUFamily.apply(*args)
    # Inference: no autograd node, one step of scratch instead of every step's activations.
    return _forward(*args, keep=False)[0][1:]
