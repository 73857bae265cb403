"""Recurrent cells: one short step function per cell, and the registry ``CELLS``.

Every cell is a function ``step(xw, state, params, rec_mask) -> (new_state, gates)``:

- ``xw`` (B, G*H) is the input projection at step t, ``x_t W_ih^T + b_ih`` (computed for all
  steps at once by :func:`project_input`, which also applies LayerNorm when enabled);
- ``state`` is ``(h,)`` or ``(h, c)``, each (B, ·), the previous state;
- ``params`` maps torch's parameter names without the layer suffix to tensors; optional
  features are switched on by the presence of their parameters (``ln_hh_weight`` -> LayerNorm,
  ``weight_hr`` -> projection, ``weight_ci`` -> peepholes);
- ``rec_mask`` (B, H_h) or None multiplies h_{t-1} where it enters the recurrent projection
  (variational recurrent dropout, Gal & Ghahramani 2016), never where it is carried over;
- ``gates`` maps the names in ``CellSpec.gates`` to the gate activations (B, H).

The equations are in docs/equations.md; each function below cites them line by line.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

State = tuple[Tensor, ...]
StepFn = Callable[
    [Tensor, State, dict[str, Tensor], Tensor | None], tuple[State, dict[str, Tensor]]
]

LAYER_NORM_EPS = 1e-5


def normalize(x: Tensor) -> Tensor:
    """Zero mean, unit variance over the last dimension (LayerNorm without gain and shift).

    Written out rather than ``F.layer_norm``: identical maths, and several times faster on the
    small per-step tensors of a recurrence on CPU.
    """
    centered = x - x.mean(-1, keepdim=True)
    return centered * torch.rsqrt(centered.square().mean(-1, keepdim=True) + LAYER_NORM_EPS)


def block_norm(x: Tensor, weight: Tensor, blocks: int) -> Tensor:
    """LayerNorm of each of the ``blocks`` gate blocks of ``x`` (…, blocks*H), times a gain."""
    return normalize(x.unflatten(-1, (blocks, x.shape[-1] // blocks))).flatten(-2) * weight


def project_input(spec: CellSpec, x: Tensor, params: dict[str, Tensor]) -> Tensor:
    """``x W_ih^T + b_ih`` of all steps, LayerNorm'd per gate if on (one fused F.layer_norm)."""
    if "ln_ih_weight" not in params:
        return F.linear(x, params["weight_ih"], params.get("bias_ih"))
    blocks = F.linear(x, params["weight_ih"]).unflatten(-1, (spec.gate_blocks, -1))
    normed = F.layer_norm(blocks, blocks.shape[-1:], eps=LAYER_NORM_EPS)
    projected = normed.flatten(-2) * params["ln_ih_weight"]
    return projected if "bias_ih" not in params else projected + params["bias_ih"]


def _recurrent(
    h: Tensor, params: dict[str, Tensor], blocks: int, rows: slice = slice(None)
) -> Tensor:
    """``h W_hh[rows]^T + b_hh[rows]`` for ``blocks`` gate blocks, LayerNorm'd per block if on."""
    weight = params["weight_hh"][rows]
    bias = params["bias_hh"][rows] if "bias_hh" in params else None
    if "ln_hh_weight" not in params:
        return F.linear(h, weight, bias)
    out = block_norm(F.linear(h, weight), params["ln_hh_weight"][rows], blocks)
    return out if bias is None else out + bias


def _dropped(h: Tensor, rec_mask: Tensor | None) -> Tensor:
    return h if rec_mask is None else h * rec_mask


def _cell_out(c: Tensor, params: dict[str, Tensor]) -> Tensor:
    """tanh of the (LayerNorm'd) cell state."""
    if "ln_c_weight" in params:
        c = normalize(c) * params["ln_c_weight"] + params["ln_c_bias"]
    return torch.tanh(c)


def _project(h: Tensor, params: dict[str, Tensor]) -> Tensor:
    """LSTM projection h = h W_hr^T (Sak et al. 2014, torch's proj_size)."""
    return h if "weight_hr" not in params else F.linear(h, params["weight_hr"])


def lstm_step(
    xw: Tensor, state: State, params: dict[str, Tensor], rec_mask: Tensor | None
) -> tuple[State, dict[str, Tensor]]:
    """LSTM with forget gate (eq. lstm.1-6): gates i, f, o and candidate g."""
    h, c = state
    i, f, g, o = (xw + _recurrent(_dropped(h, rec_mask), params, 4)).chunk(4, -1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c + i * g
    h = _project(o * _cell_out(c, params), params)
    return (h, c), {"i": i, "f": f, "g": g, "o": o}


def lstm_peephole_step(
    xw: Tensor, state: State, params: dict[str, Tensor], rec_mask: Tensor | None
) -> tuple[State, dict[str, Tensor]]:
    """Peephole LSTM (eq. peep.1-6): i, f see c_{t-1}; o sees c_t (Gers & Schmidhuber 2000)."""
    h, c_prev = state
    i, f, g, o = (xw + _recurrent(_dropped(h, rec_mask), params, 4)).chunk(4, -1)
    i = torch.sigmoid(i + params["weight_ci"] * c_prev)
    f = torch.sigmoid(f + params["weight_cf"] * c_prev)
    g = torch.tanh(g)
    c = f * c_prev + i * g
    o = torch.sigmoid(o + params["weight_co"] * c)
    h = _project(o * _cell_out(c, params), params)
    return (h, c), {"i": i, "f": f, "g": g, "o": o}


def lstm_cifg_step(
    xw: Tensor, state: State, params: dict[str, Tensor], rec_mask: Tensor | None
) -> tuple[State, dict[str, Tensor]]:
    """Coupled input-forget gate LSTM (eq. cifg.1-5): f = 1 - i (Greff et al. 2017)."""
    h, c = state
    i, g, o = (xw + _recurrent(_dropped(h, rec_mask), params, 3)).chunk(3, -1)
    i, g, o = torch.sigmoid(i), torch.tanh(g), torch.sigmoid(o)
    f = 1.0 - i
    c = f * c + i * g
    h = _project(o * _cell_out(c, params), params)
    return (h, c), {"i": i, "f": f, "g": g, "o": o}


def gru_step(
    xw: Tensor, state: State, params: dict[str, Tensor], rec_mask: Tensor | None
) -> tuple[State, dict[str, Tensor]]:
    """GRU, torch/cuDNN form (eq. gru.1-4): reset gate applied after the recurrent matmul."""
    (h,) = state
    x_r, x_z, x_n = xw.chunk(3, -1)
    h_r, h_z, h_n = _recurrent(_dropped(h, rec_mask), params, 3).chunk(3, -1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    h = (1.0 - z) * n + z * h
    return (h,), {"r": r, "z": z, "n": n}


def gru_cho_step(
    xw: Tensor, state: State, params: dict[str, Tensor], rec_mask: Tensor | None
) -> tuple[State, dict[str, Tensor]]:
    """GRU, Cho et al. 2014 form (eq. cho.1-4): reset gate applied to h before the matmul."""
    (h,) = state
    hidden = xw.shape[-1] // 3
    h_in = _dropped(h, rec_mask)
    x_r, x_z, x_n = xw.chunk(3, -1)
    h_r, h_z = _recurrent(h_in, params, 2, slice(0, 2 * hidden)).chunk(2, -1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + _recurrent(r * h_in, params, 1, slice(2 * hidden, 3 * hidden)))
    h = (1.0 - z) * n + z * h
    return (h,), {"r": r, "z": z, "n": n}


def rnn_tanh_step(
    xw: Tensor, state: State, params: dict[str, Tensor], rec_mask: Tensor | None
) -> tuple[State, dict[str, Tensor]]:
    """Elman RNN (eq. rnn.1): h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)."""
    (h,) = state
    return (torch.tanh(xw + _recurrent(_dropped(h, rec_mask), params, 1)),), {}


def rnn_relu_step(
    xw: Tensor, state: State, params: dict[str, Tensor], rec_mask: Tensor | None
) -> tuple[State, dict[str, Tensor]]:
    """Elman RNN with ReLU (eq. rnn.1 with relu)."""
    (h,) = state
    return (torch.relu(xw + _recurrent(_dropped(h, rec_mask), params, 1)),), {}


def indrnn_step(
    xw: Tensor, state: State, params: dict[str, Tensor], rec_mask: Tensor | None
) -> tuple[State, dict[str, Tensor]]:
    """IndRNN (eq. ind.1, Li et al. 2018): h_t = relu(W x_t + b + u ⊙ h_{t-1})."""
    (h,) = state
    return (torch.relu(xw + params["weight_hh"] * _dropped(h, rec_mask)),), {}


def min_positive(x: Tensor) -> Tensor:
    """g(x) = x + 0.5 for x >= 0, sigmoid(x) otherwise: keeps the candidate positive (Feng 2024)."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def mingru_step(
    xw: Tensor, state: State, params: dict[str, Tensor], rec_mask: Tensor | None
) -> tuple[State, dict[str, Tensor]]:
    """minGRU (eq. mingru.1-3): gate and candidate depend on x_t only."""
    (h,) = state
    x_z, x_n = xw.chunk(2, -1)
    z = torch.sigmoid(x_z)
    n = min_positive(x_n)
    h = (1.0 - z) * h + z * n
    return (h,), {"z": z, "n": n}


def normalized_gates(x_i: Tensor, x_f: Tensor) -> tuple[Tensor, Tensor]:
    """minLSTM's ``i / (i + f)`` and ``f / (i + f)`` with ``i = σ(x_i)``, ``f = σ(x_f)``
    (eq. minlstm.2), as ``σ(±(log i - log f))``: the plain quotient is 0/0 once both gates
    underflow (pre-activations below about -88 in float32), this form never is."""
    log_ratio = F.softplus(-x_f) - F.softplus(-x_i)  # log i - log f, as log σ(v) = -softplus(-v)
    return torch.sigmoid(log_ratio), torch.sigmoid(-log_ratio)


def minlstm_step(
    xw: Tensor, state: State, params: dict[str, Tensor], rec_mask: Tensor | None
) -> tuple[State, dict[str, Tensor]]:
    """minLSTM (eq. minlstm.1-4): normalised input and forget gates from x_t only."""
    (h,) = state
    x_i, x_f, x_g = xw.chunk(3, -1)
    i, f = normalized_gates(x_i, x_f)
    g = min_positive(x_g)
    h = f * h + i * g
    return (h,), {"i": i, "f": f, "g": g}


RecurrentWeight = Literal["matrix", "vector", "none"]


@dataclass(frozen=True)
class CellSpec:
    """What a cell is: its step function, gates, parameter layout and cost.

    Attributes:
        name: registry name.
        step: the step function (see the module docstring).
        gate_blocks: G, rows of ``weight_ih`` divided by the hidden size.
        gates: names of the gate activations the step returns (recorded by traces).
        has_cell_state: True for the LSTM forms (state ``(h, c)``).
        recurrent_weight: ``"matrix"`` (W_hh, G*H x H), ``"vector"`` (IndRNN's u) or ``"none"``.
        hidden_bias: whether the layer has ``bias_hh`` next to ``bias_ih``.
        peepholes: number of peephole vectors (``weight_ci``, ``weight_cf``, ``weight_co``).
        forget_gate: ``(gate block, sign)`` where ``forget_bias`` goes, or None; sign -1 means
            the block's gate is 1 - (keep gate), so the bias is negated.
        torch_mode: torch's ``mode`` string when torch has a fused kernel for the cell.
        description: one line for listings.
    """

    name: str
    step: StepFn
    gate_blocks: int
    gates: tuple[str, ...]
    has_cell_state: bool
    recurrent_weight: RecurrentWeight
    hidden_bias: bool
    description: str
    peepholes: int = 0
    forget_gate: tuple[int, int] | None = None
    torch_mode: str | None = None

    @property
    def uses_recurrent_matmul(self) -> bool:
        """True when h_{t-1} enters through a matrix product (False: parallel-scan friendly)."""
        return self.recurrent_weight == "matrix"

    @property
    def supports_proj(self) -> bool:
        """Projection (``proj_size``) is defined for the three LSTM forms."""
        return self.has_cell_state

    @property
    def supports_recurrent_dropout(self) -> bool:
        """Recurrent dropout needs h_{t-1} to enter through a recurrent weight."""
        return self.recurrent_weight != "none"

    def state_sizes(self, hidden_size: int, proj_size: int = 0) -> tuple[int, ...]:
        """Sizes of the state tensors: ``(h,)`` or ``(h, c)``."""
        h_size = proj_size or hidden_size
        return (h_size, hidden_size) if self.has_cell_state else (h_size,)

    def param_shapes(
        self,
        input_size: int,
        hidden_size: int,
        *,
        bias: bool = True,
        proj_size: int = 0,
        layer_norm: bool = False,
    ) -> dict[str, tuple[int, ...]]:
        """Parameter names (torch's, without layer suffix) and shapes, in registration order."""
        rows = self.gate_blocks * hidden_size
        h_size = proj_size or hidden_size
        shapes: dict[str, tuple[int, ...]] = {"weight_ih": (rows, input_size)}
        if self.recurrent_weight == "matrix":
            shapes["weight_hh"] = (rows, h_size)
        elif self.recurrent_weight == "vector":
            shapes["weight_hh"] = (hidden_size,)
        if bias:
            shapes["bias_ih"] = (rows,)
            if self.hidden_bias:
                shapes["bias_hh"] = (rows,)
        if proj_size:
            shapes["weight_hr"] = (proj_size, hidden_size)
        for name in ("weight_ci", "weight_cf", "weight_co")[: self.peepholes]:
            shapes[name] = (hidden_size,)
        if layer_norm:
            shapes["ln_ih_weight"] = (rows,)
            if self.recurrent_weight == "matrix":
                shapes["ln_hh_weight"] = (rows,)
            if self.has_cell_state:
                shapes["ln_c_weight"] = (hidden_size,)
                shapes["ln_c_bias"] = (hidden_size,)
        return shapes

    def param_count(
        self,
        input_size: int,
        hidden_size: int,
        *,
        bias: bool = True,
        proj_size: int = 0,
        layer_norm: bool = False,
    ) -> int:
        """Parameters of one layer and direction (closed form, see docs/equations.md)."""
        G, I, H, P = self.gate_blocks, input_size, hidden_size, proj_size
        recurrent = {"matrix": G * H * (P or H), "vector": H, "none": 0}[self.recurrent_weight]
        biases = G * H * (1 + self.hidden_bias) if bias else 0
        norms = G * H * (1 + self.uses_recurrent_matmul) + 2 * H * self.has_cell_state
        return G * H * I + recurrent + biases + P * H + self.peepholes * H + layer_norm * norms

    def flops_per_step(self, input_size: int, hidden_size: int, *, proj_size: int = 0) -> int:
        """2 x multiply-adds of the matrix/vector products per sample and step (gates' pointwise
        nonlinearities not counted), input projection included."""
        G, I, H, P = self.gate_blocks, input_size, hidden_size, proj_size
        recurrent = {"matrix": G * H * (P or H), "vector": H, "none": 0}[self.recurrent_weight]
        return 2 * (G * H * I + recurrent + P * H)


_LSTM_GATES = ("i", "f", "g", "o")
_GRU_GATES = ("r", "z", "n")

CELLS: dict[str, CellSpec] = {
    spec.name: spec
    for spec in (
        CellSpec("lstm", lstm_step, 4, _LSTM_GATES, True, "matrix", True,
                 "LSTM with forget gate (torch.nn.LSTM)", forget_gate=(1, 1), torch_mode="LSTM"),
        CellSpec("lstm-peephole", lstm_peephole_step, 4, _LSTM_GATES, True, "matrix", True,
                 "LSTM with peephole connections", peepholes=3, forget_gate=(1, 1)),
        CellSpec("lstm-cifg", lstm_cifg_step, 3, _LSTM_GATES, True, "matrix", True,
                 "LSTM with coupled input-forget gate", forget_gate=(0, -1)),
        CellSpec("gru", gru_step, 3, _GRU_GATES, False, "matrix", True,
                 "GRU, reset after matmul (torch.nn.GRU)", forget_gate=(1, 1), torch_mode="GRU"),
        CellSpec("gru-cho", gru_cho_step, 3, _GRU_GATES, False, "matrix", True,
                 "GRU, reset before matmul (Cho et al. 2014)", forget_gate=(1, 1)),
        CellSpec("rnn-tanh", rnn_tanh_step, 1, (), False, "matrix", True,
                 "Elman RNN, tanh (torch.nn.RNN)", torch_mode="RNN_TANH"),
        CellSpec("rnn-relu", rnn_relu_step, 1, (), False, "matrix", True,
                 "Elman RNN, relu (torch.nn.RNN)", torch_mode="RNN_RELU"),
        CellSpec("mingru", mingru_step, 2, ("z", "n"), False, "none", False,
                 "minGRU (Feng et al. 2024)", forget_gate=(0, -1)),
        CellSpec("minlstm", minlstm_step, 3, ("i", "f", "g"), False, "none", False,
                 "minLSTM (Feng et al. 2024)", forget_gate=(1, 1)),
        CellSpec("indrnn", indrnn_step, 1, (), False, "vector", False,
                 "Independently recurrent RNN (Li et al. 2018)"),
    )
}  # fmt: skip


def get_cell(name: str) -> CellSpec:
    """The spec of cell ``name``; ValueError naming close matches when unknown."""
    if not isinstance(name, str):
        raise TypeError(
            f"cell must be a str naming one of {sorted(CELLS)}, got {type(name).__name__}"
        )
    spec = CELLS.get(name.lower())
    if spec is None:
        close = difflib.get_close_matches(name.lower().replace("_", "-"), CELLS, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"unknown cell {name!r}: expected one of {sorted(CELLS)}{hint}")
    return spec


def init_uniform_bound(hidden_size: int) -> float:
    """torch's RNN initialisation bound 1/sqrt(H)."""
    return 1.0 / math.sqrt(hidden_size)
