"""Recurrent decoder with optional attention, shared by Seq2Seq, ForecastNet and the autoencoder.

The decoder starts from a state computed from the encoder's summary vector through a "bridge"
``h_0 = tanh(W s + b)`` (Bahdanau et al. 2015 initialise from the backward encoder state the
same way), which works for any encoder -- bidirectional, another cell, or a TCN -- and any
hidden size. A cell state, where the cell has one, starts at zero.

Attention (``memory`` = encoder outputs, ``mask`` = valid source steps):

- ``"luong"`` (Luong et al. 2015, global attention without input feeding): the RNN runs first,
  ``h_t`` queries the memory, and the feature is ``tanh(W_c [c_t; h_t])`` (their eq. 5). All
  steps of a teacher-forced sequence are computed at once.
- ``"bahdanau"`` (Bahdanau et al. 2015): the previous state ``s_{t-1}`` queries the memory and
  the context joins the step's input, ``s_t = RNN([y_{t-1}; c_t], s_{t-1})``; the feature is
  ``tanh(W [s_t; c_t])``. One step at a time.
- ``None``: the feature is the RNN output itself.

Every model applies its own output head to the features.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from rnnlab.errors import UserInputError
from rnnlab.models.encoder import BIDIRECTIONAL, State, has_cell_state, rnn_options
from rnnlab.nn import CELLS, make_rnn
from rnnlab.nn.attention import Attention

ATTENTION_KINDS = ("luong", "bahdanau")


def default_decoder_cell(encoder_name: str) -> str:
    """The decoder cell for an encoder: its own cell, unidirectional (GRU for a TCN)."""
    if encoder_name == "tcn":
        return "gru"
    return BIDIRECTIONAL.get(encoder_name, encoder_name)


class Decoder(nn.Module):
    """Unidirectional recurrent decoder, optionally attending over encoder outputs.

    Args:
        cell: a cell name of ``rnnlab.nn.cells.CELLS``.
        input_size: features of one decoder input step.
        hidden_size: decoder hidden units (also the feature size).
        num_layers: stacked layers.
        summary_size: size of the encoder summary that initialises the state.
        memory_size: size of one encoder output step (needed when ``attention`` is set).
        attention: ``"luong"``, ``"bahdanau"`` or None.
        **rnn_opts: passed to ``rnnlab.nn.make_rnn`` (``dropout``, ``layer_norm``, ...).
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        *,
        summary_size: int,
        memory_size: int | None = None,
        attention: str | None = None,
        **rnn_opts: Any,
    ) -> None:
        super().__init__()
        if attention is not None and attention not in ATTENTION_KINDS:
            raise UserInputError(
                f"unknown attention {attention!r}; expected one of {ATTENTION_KINDS} or None"
            )
        if attention is not None and memory_size is None:
            raise ValueError("attention needs memory_size (the encoder output size)")
        if cell not in CELLS:
            raise UserInputError(
                f"unknown decoder cell {cell!r}; expected one of {', '.join(CELLS)}"
            )
        self.cell = cell
        self.kind = attention
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.cell_state = has_cell_state(cell)
        rnn_input = input_size + (memory_size if attention == "bahdanau" else 0)
        self.rnn = make_rnn(
            cell,
            rnn_input,
            hidden_size,
            num_layers,
            batch_first=True,
            **rnn_options(cell, num_layers, rnn_opts),
        )
        self.bridge = nn.Linear(summary_size, num_layers * hidden_size)
        self.attention: nn.Module | None = None
        self.combine: nn.Linear | None = None
        if attention is not None:
            self.attention = Attention(hidden_size, memory_size, kind=attention)
            self.combine = nn.Linear(hidden_size + memory_size, hidden_size)
        self.output_size = hidden_size

    def initial_state(self, summary: Tensor) -> State:
        """Decoder state from the encoder summary (B, summary_size)."""
        h0 = torch.tanh(self.bridge(summary))
        h0 = h0.view(-1, self.num_layers, self.hidden_size).transpose(0, 1).contiguous()
        return (h0, torch.zeros_like(h0)) if self.cell_state else h0

    def forward(
        self,
        inputs: Tensor,
        state: State,
        memory: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> tuple[Tensor, State, Tensor | None]:
        """Decode ``inputs`` (B, U, input_size) from ``state``.

        Returns features (B, U, hidden_size), the final state, and the attention weights
        (B, U, S) or None without attention. Calling it step by step (U = 1, carrying the
        state) gives the same numbers as one call on the whole sequence.
        """
        if self.attention is not None and memory is None:
            raise ValueError("this decoder attends: pass memory (the encoder outputs)")
        if self.kind == "bahdanau":
            features, weights = [], []
            for t in range(inputs.shape[1]):
                h = state[0] if isinstance(state, tuple) else state
                context, w = self.attention(h[-1], memory, mask)
                out, state = self.rnn(torch.cat([inputs[:, t], context], -1).unsqueeze(1), state)
                features.append(torch.tanh(self.combine(torch.cat([out[:, 0], context], -1))))
                weights.append(w)
            return torch.stack(features, 1), state, torch.stack(weights, 1)
        out, state = self.rnn(inputs, state)
        if self.kind == "luong":
            context, weights = self.attention(out, memory, mask)
            return torch.tanh(self.combine(torch.cat([context, out], -1))), state, weights
        return out, state, None
