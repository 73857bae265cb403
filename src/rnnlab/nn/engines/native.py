"""The native engine: torch's fused RNN kernels (oneDNN on CPU, cuDNN on GPU) with our weights.

Supports the cells torch has (``CellSpec.torch_mode``: lstm incl. projection, gru, rnn-tanh,
rnn-relu) without LayerNorm, recurrent dropout or zoneout. :func:`run` is the per-layer engine
function; :func:`run_stack` runs a whole stack in one call exactly as ``torch.nn.LSTM`` does,
which is what :class:`rnnlab.nn.Recurrent` uses so that the native engine costs what torch costs.
"""

from __future__ import annotations

import torch
from torch import _VF, Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnlab.nn.cells import CellSpec, State
from rnnlab.nn.engines.base import LayerOptions, StepMasks, register_engine

_KERNELS = {"LSTM": _VF.lstm, "GRU": _VF.gru, "RNN_TANH": _VF.rnn_tanh, "RNN_RELU": _VF.rnn_relu}
WEIGHT_ORDER = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
"""torch's order of one layer's weights in the flat weight list."""


def supports(spec: CellSpec, options: LayerOptions) -> bool:
    """Cells torch has, without the options torch lacks."""
    return (
        spec.torch_mode is not None
        and not options.layer_norm
        and options.recurrent_dropout == 0
        and options.zoneout == 0
    )


def run_stack(
    spec: CellSpec,
    x: Tensor,
    hx: State,
    flat_weights: list[Tensor],
    *,
    bias: bool,
    num_layers: int,
    dropout: float,
    training: bool,
    bidirectional: bool,
    batch_first: bool,
    batch_sizes: Tensor | None = None,
) -> tuple[Tensor, State]:
    """One call of torch's fused kernel for a whole stack: ``x`` padded (or packed data when
    ``batch_sizes`` is given), ``hx`` the (L*D, B, ·) initial state tensors."""
    kernel = _KERNELS[spec.torch_mode]
    state = hx if spec.has_cell_state else hx[0]
    if batch_sizes is None:
        result = kernel(
            x, state, flat_weights, bias, num_layers, dropout, training, bidirectional, batch_first
        )
    else:
        result = kernel(
            x, batch_sizes, state, flat_weights, bias, num_layers, dropout, training, bidirectional
        )
    return result[0], tuple(result[1:])


def reverse_within(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence of time-major ``x`` within its own length (padding stays put)."""
    if lengths is None:
        return x.flip(0)
    t = torch.arange(x.shape[0], device=x.device)[:, None]
    lengths = lengths.to(x.device)
    index = torch.where(t < lengths, lengths - 1 - t, t)
    return x.gather(0, index[:, :, None].expand_as(x))


def reverse_zoneout(masks: StepMasks, shape: tuple[int, int], lengths: Tensor | None) -> StepMasks:
    """``masks`` for a run on reversed input: each zoneout keep-mask expanded to (T, B, H) and
    reversed within each sequence's length, like the input (``shape`` is (T, B))."""
    if masks.zoneout is None:
        return masks
    return StepMasks(
        recurrent=masks.recurrent,
        zoneout=tuple(
            reverse_within(m.expand(*shape, m.shape[-1]), lengths) for m in masks.zoneout
        ),
    )


def run(
    spec: CellSpec,
    x: Tensor,
    state: State,
    params: dict[str, Tensor],
    *,
    lengths: Tensor | None,
    reverse: bool,
    masks: StepMasks,
) -> tuple[Tensor, State]:
    """Engine ``run`` (contract in :mod:`rnnlab.nn.engines.base`); masks must be empty."""
    if masks.recurrent is not None or masks.zoneout is not None:
        raise ValueError("the native engine supports neither recurrent dropout nor zoneout")
    weights = [params[name] for name in WEIGHT_ORDER if name in params]
    # cuDNN keeps what backward needs only in training mode; with dropout 0 the mode changes
    # nothing else, so follow autograd: training mode whenever gradients are being recorded.
    training = torch.is_grad_enabled()
    options = {"bias": "bias_ih" in params, "num_layers": 1, "dropout": 0.0, "training": training}
    options |= {"bidirectional": False, "batch_first": False}
    hx = tuple(s.unsqueeze(0) for s in state)
    if reverse:
        x = reverse_within(x, lengths)
    if lengths is None:
        output, final = run_stack(spec, x, hx, weights, **options)
    else:
        packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
        hx = tuple(s.index_select(1, packed.sorted_indices) for s in hx)
        data, final = run_stack(
            spec, packed.data, hx, weights, batch_sizes=packed.batch_sizes, **options
        )
        packed_out = PackedSequence(
            data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices
        )
        output, _ = pad_packed_sequence(packed_out, total_length=x.shape[0])
        final = tuple(s.index_select(1, packed.unsorted_indices) for s in final)
    if reverse:
        output = reverse_within(output, lengths)
    return output, tuple(s.squeeze(0) for s in final)


register_engine("native", run, supports)
