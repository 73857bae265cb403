"""LSTM-family recurrence through the C++ extension (:mod:`rnnlab.nn.kernels.extension`).

One autograd node per sequence: ``lstm_forward`` runs every step in C++ (one GEMM and one fused
gate pass per step) and ``lstm_backward`` is the hand-written BPTT of ``csrc/lstm.cpp``, which
also covers peepholes, the coupled input-forget gate, LayerNorm (of the input and of the
recurrent projection per gate block, and of the cell), variational recurrent dropout and zoneout.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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

__all__ = ["LSTMConfig", "lstm_family_sequence"]


@dataclass(frozen=True)
class LSTMConfig(KernelConfig):
    """The non-differentiated parts of one call: those of :class:`KernelConfig`, and

    Attributes:
        zoneout: keep-masks of h and c broadcastable to (2, T, B, H), or None.
        cifg: coupled input-forget gate (gates i, g, o).
    """

    cifg: bool = False


def _forward(
    xp: Tensor,
    h0: Tensor,
    c0: Tensor,
    weight_hh: Tensor,
    peephole: Tensor | None,
    ln_ih: Tensor | None,
    bias_ih: Tensor | None,
    ln_hh: Tensor | None,
    bias_hh: Tensor | None,
    ln_c: Tensor | None,
    config: LSTMConfig,
    *,
    keep: bool,
) -> list[Tensor]:
    """The C++ forward; ``keep`` stores every step's activations for the backward."""
    return require_ops("lstm").lstm_forward(
        xp, h0, c0, weight_hh, list(config.batch_sizes), peephole, config.rec_mask,
        config.zoneout, ln_ih, bias_ih, ln_hh, bias_hh, ln_c, config.cifg, keep,
    )  # fmt: skip


class _LSTMFamily(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx,
        xp: Tensor,
        h0: Tensor,
        c0: Tensor,
        weight_hh: Tensor,
        peephole: Tensor | None,
        ln_ih: Tensor | None,
        bias_ih: Tensor | None,
        ln_hh: Tensor | None,
        bias_hh: Tensor | None,
        ln_c: Tensor | None,
        config: LSTMConfig,
    ) -> tuple[Tensor, Tensor]:
        saved = _forward(
            xp, h0, c0, weight_hh, peephole, ln_ih, bias_ih, ln_hh, bias_hh, ln_c, config, keep=True
        )
        ctx.config = config
        ctx.biases = (bias_ih is not None, bias_hh is not None)
        ctx.save_for_backward(weight_hh, peephole, ln_ih, ln_hh, ln_c, *saved)
        return saved[0][1:], saved[1][-1]

    @staticmethod
    def backward(ctx, grad_hs: Tensor | None, grad_c_last: Tensor | None):  # type: ignore[override]
        refuse_double_backward()
        weight_hh, peephole, ln_ih, ln_hh, ln_c, *saved = ctx.saved_tensors
        config: LSTMConfig = ctx.config
        has_bias_ih, has_bias_hh = ctx.biases
        dxp, dh0, dc0, dw, dpeep, dln_hh, dbias, dlnc, dln_ih = require_ops("lstm").lstm_backward(
            grad_hs, grad_c_last, saved, weight_hh, list(config.batch_sizes), peephole,
            config.rec_mask, config.zoneout, ln_ih, ln_hh, has_bias_ih or has_bias_hh, ln_c,
            config.cifg,
        )  # fmt: skip
        return (
            dxp,
            dh0,
            dc0,
            dw,
            dpeep if peephole is not None else None,
            dln_ih if ln_ih is not None else None,
            dbias if has_bias_ih else None,
            dln_hh if ln_hh is not None else None,
            dbias if has_bias_hh else None,
            dlnc if ln_c is not None else None,
            None,
        )


def lstm_family_sequence(
    xp: Tensor,
    h0: Tensor,
    c0: Tensor,
    weight_hh: Tensor,
    *,
    peephole: Tensor | None = None,
    ln_ih: Tensor | None = None,
    bias_ih: Tensor | None = None,
    ln_hh: Tensor | None = None,
    bias_hh: Tensor | None = None,
    ln_c: Tensor | None = None,
    config: LSTMConfig = LSTMConfig(),
) -> tuple[Tensor, Tensor]:
    """Run an LSTM-family recurrence over precomputed input projections (C++ kernels).

    Args:
        xp: (T, B, G*H) input projections x W_ih^T; G = 4 (i, f, g, o) or 3 for cifg
            (i, g, o). Without LayerNorm the biases may be folded in (then pass none).
        h0, c0: (B, H) initial states.
        weight_hh: (G*H, H).
        peephole: (3, H) stacked w_ci, w_cf, w_co, or None.
        ln_ih: (G*H,) LayerNorm gain of the input projection, or None. When given, xp is the
            raw x W_ih^T (no bias) and the kernel normalises each step's gate blocks itself.
        bias_ih: (G*H,) b_ih, or None; added after any LayerNorm.
        ln_hh: (G*H,) LayerNorm gain of the recurrent projection, or None.
        bias_hh: (G*H,) b_hh, or None; added after any LayerNorm.
        ln_c: (2, H) LayerNorm gain and bias of the cell state, or None.
        config: batch sizes, masks and the cifg switch (not differentiated).

    Returns:
        ``(hs, c_last)``: hs (T, B, H) the state after each step (rows past their length
        repeat their last state), c_last (B, H) the final cell state.
    """
    steps, batch, _ = xp.shape
    hidden = h0.shape[-1]
    config = replace(
        config,
        rec_mask=dense(config.rec_mask, (batch, hidden), xp),
        zoneout=dense(config.zoneout, (2, steps, batch, hidden), xp),
    )
    tensors = contiguous(xp, h0, c0, weight_hh, peephole, ln_ih, bias_ih, ln_hh, bias_hh, ln_c)
    if needs_autograd(*tensors):
        return _LSTMFamily.apply(*tensors, config)
    saved = _forward(*tensors, config, keep=False)
    return saved[0][1:], saved[1][-1]
