"""Sequence encoders by name: any recurrent cell of :mod:`rnnlab.nn`, bidirectional forms, TCN.

``make_encoder("gru", input_size, hidden_size)`` gives an :class:`Encoder` that takes
batch-first padded input plus lengths, packs it for the recurrent layer (so padding never
reaches the state), and returns every step's output, one summary vector per sequence and the
final recurrent state.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab.errors import UserInputError
from rnnlab.models.common import check_lengths
from rnnlab.nn import CELLS, make_rnn
from rnnlab.nn.tcn import TCN

BIDIRECTIONAL = {"bilstm": "lstm", "bigru": "gru", "birnn": "rnn-tanh"}
"""Encoder names that stand for a bidirectional stack of a cell."""

TASK_FORGET_BIAS = 1.0
"""Forget-gate bias at init for LSTM forms in task models (Jozefowicz et al. 2015)."""

State = Tensor | tuple[Tensor, ...] | None


def encoder_names() -> list[str]:
    """Every name :func:`make_encoder` accepts."""
    return [*CELLS, *BIDIRECTIONAL, "tcn"]


def has_cell_state(cell: str) -> bool:
    """Whether ``cell`` (a name of ``rnnlab.nn.cells.CELLS``) carries a cell state c."""
    return CELLS[cell].has_cell_state


def rnn_options(cell: str, num_layers: int, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` for ``make_rnn`` with the task-model defaults: ``forget_bias=1.0`` for LSTM
    forms, and no inter-layer ``dropout`` on a single layer (it has no effect there)."""
    options = dict(options)
    if has_cell_state(cell) and options.get("bias", True):
        options.setdefault("forget_bias", TASK_FORGET_BIAS)
    if num_layers == 1:
        options.pop("dropout", None)
    return options


def causal_encoder_name(name: str, options: dict[str, Any]) -> str:
    """``name`` unless it (or ``options``) asks for a bidirectional encoder, which would see
    the future; shared by the next-step models."""
    if name in BIDIRECTIONAL or options.get("bidirectional"):
        raise UserInputError(
            f"encoder {name!r} is bidirectional and would see the future; next-step models "
            "need a causal encoder (a unidirectional cell or tcn)"
        )
    return name


class EncoderOutput(NamedTuple):
    """What :meth:`Encoder.forward` returns.

    Attributes:
        outputs: (B, T, output_size) per-step outputs, zero at padded steps for recurrent
            encoders (TCN outputs at padded steps are meaningless and must be masked).
        last: (B, output_size) summary of each sequence: the final state of the last layer,
            both directions concatenated (the backward direction ends at step 0), or for a
            TCN the output at step ``length - 1``.
        state: the final recurrent state ``h_n`` or ``(h_n, c_n)`` as torch's RNNs return it,
            or None for a TCN.
    """

    outputs: Tensor
    last: Tensor
    state: State


class Encoder(nn.Module):
    """A named sequence encoder; build it with :func:`make_encoder`.

    Attributes:
        name: the encoder name given to :func:`make_encoder`.
        cell: the recurrent cell name, or ``"tcn"``.
        layer: the underlying ``rnnlab.nn`` layer (``Recurrent`` or ``TCN``), batch-first.
        output_size: features per output step (directions concatenated).
        recurrent: False for a TCN (no state to carry).
    """

    def __init__(
        self, name: str, input_size: int, hidden_size: int, num_layers: int = 1, **opts: Any
    ) -> None:
        super().__init__()
        names = encoder_names()
        if name not in names:
            raise UserInputError(f"unknown encoder {name!r}; expected one of {', '.join(names)}")
        self.name = name
        self.recurrent = name != "tcn"
        if name == "tcn":
            self.cell = "tcn"
            self.num_directions = 1
            self.layer = TCN(input_size, hidden_size, num_layers, batch_first=True, **opts)
        else:
            self.cell = BIDIRECTIONAL.get(name, name)
            bidirectional = name in BIDIRECTIONAL or bool(opts.pop("bidirectional", False))
            self.num_directions = 2 if bidirectional else 1
            self.layer = make_rnn(
                self.cell,
                input_size,
                hidden_size,
                num_layers,
                batch_first=True,
                bidirectional=bidirectional,
                **rnn_options(self.cell, num_layers, opts),
            )
        self.output_size: int = self.layer.output_size

    def forward(self, x: Tensor, lengths: Tensor | None = None, hx: State = None) -> EncoderOutput:
        """Encode ``x`` (B, T, I) with optional ``lengths`` (B,) and initial state ``hx``."""
        batch_size, steps = x.shape[0], x.shape[1]
        check_lengths(lengths, batch_size, steps)
        if not self.recurrent:
            if hx is not None:
                raise UserInputError("a TCN encoder has no state: hx must be None")
            outputs, _ = self.layer(x)
            return EncoderOutput(outputs, last_step(outputs, lengths), None)
        if lengths is None:
            outputs, state = self.layer(x, hx)
        else:
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            packed_out, state = self.layer(packed, hx)
            outputs, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=steps)
        h_n = state[0] if isinstance(state, tuple) else state
        # h_n is (num_layers * num_directions, B, H); the last layer's directions are at the end.
        last = h_n[-self.num_directions :].transpose(0, 1).reshape(batch_size, -1)
        return EncoderOutput(outputs, last, state)


def last_step(outputs: Tensor, lengths: Tensor | None) -> Tensor:
    """``outputs[b, lengths[b] - 1]`` for each b (the final step when lengths is None)."""
    if lengths is None:
        return outputs[:, -1]
    index = (lengths.to(outputs.device) - 1).view(-1, 1, 1).expand(-1, 1, outputs.shape[-1])
    return outputs.gather(1, index).squeeze(1)


def make_encoder(
    name: str, input_size: int, hidden_size: int, num_layers: int = 1, **opts: Any
) -> Encoder:
    """Build an encoder by name.

    Args:
        name: a cell of ``rnnlab.nn.cells.CELLS`` (``lstm``, ``gru``, ``rnn-tanh``, ...),
            ``bilstm`` / ``bigru`` / ``birnn`` (bidirectional), or ``tcn``.
        input_size: features per input step.
        hidden_size: hidden units per direction (channels for a TCN).
        num_layers: stacked layers (residual blocks for a TCN).
        **opts: passed to ``rnnlab.nn.make_rnn`` (``dropout``, ``layer_norm``, ``zoneout``,
            ``bidirectional``, ``forget_bias`` -- default 1.0 for LSTM forms -- ...) or to
            ``rnnlab.nn.TCN`` (``kernel_size``, ``dropout``).
    """
    return Encoder(name, input_size, hidden_size, num_layers, **opts)


def encoder_from_config(config: Any, input_size: int, name: str | None = None) -> Encoder:
    """The encoder of a task model's ``config`` (its ``encoder``, ``hidden_size``,
    ``num_layers``, ``dropout`` and ``encoder_options``) on ``input_size`` features; ``name``
    overrides ``config.encoder``."""
    return make_encoder(
        name or config.encoder,
        input_size,
        config.hidden_size,
        config.num_layers,
        dropout=config.dropout,
        **config.encoder_options,
    )
