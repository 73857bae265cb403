"""``pack_padded_sequence`` with rnnlab's input checks: the same result as torch's, but a
ValueError naming expected and given values instead of a RuntimeError deep in torch."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn.utils import rnn as torch_rnn
from torch.nn.utils.rnn import PackedSequence


def pack_padded_sequence(
    input: Tensor,
    lengths: Tensor | list[int],
    batch_first: bool = False,
    enforce_sorted: bool = True,
) -> PackedSequence:
    """Pack a padded batch like ``torch.nn.utils.rnn.pack_padded_sequence``, after checking
    the rank, the lengths' shape and range (no zero-length sequence) and their order."""
    if not isinstance(input, Tensor) or input.dim() < 2:
        got = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise ValueError(f"expected a padded batch (T, B, *) or (B, T, *) tensor, got {got}")
    steps, batch = (input.shape[1], input.shape[0]) if batch_first else input.shape[:2]
    lengths = torch.as_tensor(lengths, device="cpu")
    if lengths.dtype.is_floating_point or lengths.dtype == torch.bool or lengths.shape != (batch,):
        raise ValueError(
            f"expected lengths: integers of shape ({batch},), got dtype {lengths.dtype} "
            f"shape {tuple(lengths.shape)}"
        )
    if (lengths < 1).any():
        index = int((lengths < 1).nonzero()[0])
        raise ValueError(
            f"zero-length sequence at batch index {index} (length {int(lengths[index])}); "
            "every sequence needs at least one step: drop empty sequences first"
        )
    if (lengths > steps).any():
        raise ValueError(
            f"lengths must be at most the padded length {steps}, got {lengths.tolist()}"
        )
    if enforce_sorted and (lengths[:-1] < lengths[1:]).any():
        raise ValueError(
            f"lengths must be sorted in decreasing order when enforce_sorted=True, got "
            f"{lengths.tolist()}; pass enforce_sorted=False to pack an unsorted batch"
        )
    return torch_rnn.pack_padded_sequence(input, lengths, batch_first, enforce_sorted)
