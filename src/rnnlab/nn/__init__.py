"""rnnlab.nn: exact recurrent layers (drop-in LSTM/GRU/RNN), cell variants, engines, TCN and
attention. Imports nothing else of rnnlab.

- :func:`make_rnn` / :class:`Recurrent`: any cell of :data:`rnnlab.nn.cells.CELLS`;
- :class:`LSTM`, :class:`GRU`, :class:`RNN`: drop-in replacements for torch.nn's;
- :func:`count_params`: parameters of a ``make_rnn`` stack without building it;
- :func:`pack_padded_sequence`: torch's, with clear errors for bad lengths;
- :mod:`rnnlab.nn.engines`: the engines that run one layer (native, reference, loop, scan).
"""

from rnnlab.nn import cells, engines
from rnnlab.nn.attention import Attention
from rnnlab.nn.cells import CELLS, CellSpec
from rnnlab.nn.packing import pack_padded_sequence
from rnnlab.nn.recurrent import GRU, LSTM, RNN, Recurrent, count_params, make_rnn
from rnnlab.nn.tcn import TCN

__all__ = [
    "CELLS",
    "GRU",
    "LSTM",
    "RNN",
    "TCN",
    "Attention",
    "CellSpec",
    "Recurrent",
    "cells",
    "count_params",
    "engines",
    "make_rnn",
    "pack_padded_sequence",
]
