"""Recurrent layers: :class:`Recurrent` (any cell of the registry) and the drop-in
:class:`LSTM`, :class:`GRU`, :class:`RNN` with torch.nn's signatures and state_dict layout."""

from __future__ import annotations

import inspect
import numbers
import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnlab.nn import engines
from rnnlab.nn.cells import CellSpec, State, get_cell, init_uniform_bound
from rnnlab.nn.engines import native, reference
from rnnlab.nn.engines.base import LayerOptions, StepMasks

HiddenState = Tensor | tuple[Tensor, Tensor]


def _check_rate(name: str, value: float) -> float:
    if not isinstance(value, numbers.Number) or isinstance(value, bool) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def _autocast_enabled(device: torch.device) -> bool:
    """Whether autocast (AMP) is on for ``device``: its ops then cast mixed dtypes themselves."""
    try:
        return torch.is_autocast_enabled(device.type)
    except RuntimeError:  # a device type autocast does not know (e.g. meta)
        return False


#: The implementations one forward can run, as :attr:`Recurrent.engine_used` names them.
IMPLEMENTATIONS = (
    "native",
    "reference",
    "loop-cpp",
    "loop-fused",
    "loop-generic",
    "scan-cpp",
    "scan-chunked",
)


def implementation(
    engine: str, spec: CellSpec, x: Tensor, params: dict[str, Tensor], masks: StepMasks
) -> str:
    """Which implementation ``engine`` runs for one layer call: the engine's name, with the
    loop and scan engines' path (their own ``kernel_path``) appended."""
    if engine == "loop":
        from rnnlab.nn.engines import loop

        return f"loop-{loop.kernel_path(spec, params, masks, x)}"
    if engine == "scan":
        from rnnlab.nn.engines import scan

        return f"scan-{scan.kernel_path(x)}"
    return engine


class Recurrent(nn.Module):
    """A stack of recurrent layers of any registered cell, behaving like ``torch.nn.LSTM``.

    Args:
        cell: a name of :data:`rnnlab.nn.cells.CELLS`.
        input_size: features per step, I.
        hidden_size: H.
        num_layers: stacked layers.
        bias: use bias vectors.
        batch_first: input/output (B, T, ·) instead of (T, B, ·).
        dropout: dropout on the outputs of every layer but the last (training only).
        bidirectional: add a reverse direction per layer.
        proj_size: LSTM projection size (LSTM forms only; 0: none).
        layer_norm: LayerNorm of each gate block's input and recurrent projections (and of
            c before the output tanh for LSTM forms), Ba et al. 2016.
        recurrent_dropout: variational dropout rate on h_{t-1} where it enters the recurrent
            projection, one mask per sequence (Gal & Ghahramani 2016).
        zoneout: probability of keeping each unit's previous state (Krueger et al. 2017).
        forget_bias: initial bias of the forget gate (None: torch's initialisation).
        engine: ``"auto"`` (the fastest for the input's device and the grad mode, chosen per
            call, see :mod:`rnnlab.nn.engines.auto`) or a registered engine name
            (``native``: torch's kernel, ``loop``, ``scan``, ``reference``). :attr:`engine`
            keeps what was asked; :meth:`engine_for` says what a call runs.
        check_finite: raise ValueError when input or initial state holds NaN/Inf.
        device, dtype: of the parameters.

    ``forward(input, hx=None, *, lengths=None) -> (output, h_n)`` as torch's: ``h_n`` is
    ``(h_n, c_n)`` for LSTM forms. ``lengths`` (B,) is an rnnlab extension for padded input.

    ``engine`` is the engine asked for at construction (``"auto"`` or a name), ``engine_for(x)``
    the engine a call on ``x`` runs, and ``engine_used`` which code the last forward ran, one of
    :data:`IMPLEMENTATIONS` (``"loop-cpp"``, ``"scan-chunked"``, ...; None before the first
    forward). ``engine`` and ``engine_used`` appear in the one-line ``repr``.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        *,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        layer_norm: bool = False,
        recurrent_dropout: float = 0.0,
        zoneout: float = 0.0,
        forget_bias: float | None = None,
        engine: str = "auto",
        check_finite: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        spec = get_cell(cell)
        for name, value in (
            ("input_size", input_size),
            ("hidden_size", hidden_size),
            ("num_layers", num_layers),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(proj_size, int) or proj_size < 0:
            raise ValueError(f"proj_size must be a non-negative integer, got {proj_size!r}")
        if proj_size and not spec.supports_proj:
            raise ValueError(f"proj_size is defined for the LSTM cells only, not for {spec.name!r}")
        if proj_size >= hidden_size:
            raise ValueError(
                f"proj_size has to be smaller than hidden_size ({hidden_size}), got {proj_size}"
            )
        dropout = _check_rate("dropout", dropout)
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}",
                stacklevel=2,
            )
        recurrent_dropout = _check_rate("recurrent_dropout", recurrent_dropout)
        if recurrent_dropout and not spec.supports_recurrent_dropout:
            raise ValueError(
                f"recurrent_dropout needs a recurrent weight; cell {spec.name!r} has none"
            )
        zoneout = _check_rate("zoneout", zoneout)
        if forget_bias is not None and (spec.forget_gate is None or not bias):
            why = "has no forget gate" if spec.forget_gate is None else "is built with bias=False"
            raise ValueError(f"forget_bias was given but cell {spec.name!r} {why}")
        self.spec: CellSpec = spec
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = dropout
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        self.layer_norm = layer_norm
        self.recurrent_dropout = recurrent_dropout
        self.zoneout = zoneout
        self.forget_bias = forget_bias
        self.check_finite = check_finite
        self.options = LayerOptions(proj_size, bias, layer_norm, recurrent_dropout, zoneout)
        resolved = engines.resolve_engine(engine, spec, self.options)
        self.engine = "auto" if engine == "auto" else resolved
        self.engine_used: str | None = None  # set by every forward
        self._param_names: list[dict[str, str]] = []  # per layer*direction: short -> full name
        factory = {"device": device, "dtype": dtype}
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else self.output_size
            shapes = spec.param_shapes(
                layer_input, hidden_size, bias=bias, proj_size=proj_size, layer_norm=layer_norm
            )
            for suffix in ("", "_reverse")[: self.num_directions]:
                names = {short: f"{short}_l{layer}{suffix}" for short in shapes}
                for short, shape in shapes.items():
                    self.register_parameter(
                        names[short], nn.Parameter(torch.empty(shape, **factory))
                    )
                self._param_names.append(names)
        self.reset_parameters()
        self.flatten_parameters()

    @property
    def cell(self) -> str:
        """The cell's registry name."""
        return self.spec.name

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        """Features of the output: num_directions x (proj_size or hidden_size)."""
        return self.num_directions * (self.proj_size or self.hidden_size)

    def reset_parameters(self) -> None:
        """torch's initialisation U(-1/sqrt(H), 1/sqrt(H)) in registration order (so a seeded
        drop-in layer gets torch's exact weights); LayerNorm gains 1 and shifts 0; IndRNN's
        recurrent weights U(0, 1); then ``forget_bias`` if given."""
        bound = init_uniform_bound(self.hidden_size)
        with torch.no_grad():
            for name, param in self.named_parameters():
                if name.startswith("ln_"):
                    param.fill_(0.0 if name.startswith("ln_c_bias") else 1.0)
                else:
                    param.uniform_(-bound, bound)
            for names in self._param_names:
                if self.spec.recurrent_weight == "vector":
                    getattr(self, names["weight_hh"]).uniform_(0.0, 1.0)
                if self.forget_bias is not None:
                    block, sign = self.spec.forget_gate
                    rows = slice(block * self.hidden_size, (block + 1) * self.hidden_size)
                    getattr(self, names["bias_ih"])[rows] = sign * self.forget_bias
                    if "bias_hh" in names:
                        getattr(self, names["bias_hh"])[rows] = 0.0

    def flatten_parameters(self) -> None:
        """Put the weights of a native-engine layer on the GPU into one contiguous cuDNN buffer
        (as ``torch.nn.RNNBase.flatten_parameters``); a no-op otherwise. Called after
        ``.to()``/``.cuda()``."""
        weights = self._flat_weights
        if self.engine not in ("native", "auto") or not weights:
            return
        first = weights[0]
        if any(
            w.dtype != first.dtype or not w.is_cuda or not torch.backends.cudnn.is_acceptable(w)
            for w in weights
        ) or len({w.data_ptr() for w in weights}) != len(weights):
            return
        from torch.backends.cudnn import rnn as cudnn_rnn

        with torch.cuda.device_of(first), torch.no_grad():
            if torch._use_cudnn_rnn_flatten_weight():
                torch._cudnn_rnn_flatten_weight(
                    weights,
                    (4 if self.bias else 2) + (self.proj_size > 0),
                    self.input_size,
                    cudnn_rnn.get_cudnn_mode(self.spec.torch_mode),
                    self.hidden_size,
                    self.proj_size,
                    self.num_layers,
                    self.batch_first,
                    self.bidirectional,
                )

    def _apply(self, fn: Any, recurse: bool = True) -> Recurrent:
        result = super()._apply(fn, recurse)
        self.flatten_parameters()
        return result

    def layer_params(self, layer: int, direction: int = 0) -> dict[str, Tensor]:
        """Parameters of one layer and direction under their short names (``weight_ih``...)."""
        names = self._param_names[layer * self.num_directions + direction]
        return {short: getattr(self, full) for short, full in names.items()}

    @property
    def all_weights(self) -> list[list[Tensor]]:
        """Parameters per layer and direction, as ``torch.nn.RNNBase.all_weights``."""
        return [[getattr(self, full) for full in names.values()] for names in self._param_names]

    @property
    def _flat_weights(self) -> list[Tensor]:
        return [
            getattr(self, names[short])
            for names in self._param_names
            for short in native.WEIGHT_ORDER
            if short in names
        ]

    # ---------------------------------------------------------------- input handling
    def _expected_input(self) -> str:
        order = "(B, T, I)" if self.batch_first else "(T, B, I)"
        return f"a 3-D tensor {order} or a 2-D unbatched tensor (T, I) with I={self.input_size}"

    def _check_tensor(self, what: str, tensor: Tensor) -> None:
        reference_param = self.weight_ih_l0
        if not tensor.is_floating_point():
            raise TypeError(f"{what} must be a floating-point tensor, got dtype {tensor.dtype}")
        if tensor.dtype != reference_param.dtype and not _autocast_enabled(tensor.device):
            raise TypeError(
                f"{what} has dtype {tensor.dtype} but the layer's parameters are "
                f"{reference_param.dtype}; convert one of them (e.g. layer.to({tensor.dtype}))"
            )
        if tensor.device != reference_param.device:
            raise ValueError(
                f"{what} is on device {tensor.device} but the layer's parameters are on "
                f"{reference_param.device}"
            )
        if self.check_finite and not torch.isfinite(tensor).all():
            bad = (~torch.isfinite(tensor)).nonzero()[0].tolist()
            raise ValueError(f"{what} contains NaN or Inf (first at index {tuple(bad)})")

    def _prepare_input(
        self, input: Tensor | PackedSequence, lengths: Tensor | None
    ) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor | None, bool]:
        """Validate; return (x time-major padded, lengths, sorted_indices, unsorted_indices,
        unbatched). Packed input is unpacked in its sorted order."""
        if isinstance(input, PackedSequence):
            if lengths is not None:
                raise ValueError(
                    "lengths must not be given with a PackedSequence input (it has its own)"
                )
            self._check_tensor("input", input.data)
            if input.data.dim() != 2 or input.data.shape[-1] != self.input_size:
                raise ValueError(
                    f"expected PackedSequence data of shape (N, {self.input_size}), "
                    f"got {tuple(input.data.shape)}"
                )
            x, lengths = pad_packed_sequence(PackedSequence(input.data, input.batch_sizes))
            return x, lengths, input.sorted_indices, input.unsorted_indices, False
        if not isinstance(input, Tensor):
            raise TypeError(f"input must be a Tensor or PackedSequence, got {type(input).__name__}")
        if input.dim() not in (2, 3):
            raise ValueError(f"expected {self._expected_input()}, got shape {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(
                f"expected input feature size I={self.input_size} (last dim), got "
                f"{input.shape[-1]} in shape {tuple(input.shape)}"
            )
        self._check_tensor("input", input)
        unbatched = input.dim() == 2
        x = (
            input.unsqueeze(1)
            if unbatched
            else (input.transpose(0, 1) if self.batch_first else input)
        )
        if x.shape[0] == 0:
            raise ValueError(
                f"got a zero-length sequence (input shape {tuple(input.shape)}); T must be >= 1"
            )
        if lengths is not None:
            lengths = self._check_lengths(lengths, x.shape[0], x.shape[1], unbatched)
        return x, lengths, None, None, unbatched

    @staticmethod
    def _check_lengths(lengths: Any, steps: int, batch: int, unbatched: bool) -> Tensor:
        lengths = torch.as_tensor(lengths)
        if unbatched:
            lengths = lengths.reshape(1)
        if (
            lengths.dtype.is_floating_point
            or lengths.dtype == torch.bool
            or lengths.shape != (batch,)
        ):
            raise ValueError(
                f"lengths must be integers of shape ({batch},), got dtype {lengths.dtype} "
                f"shape {tuple(lengths.shape)}"
            )
        if (lengths < 1).any() or (lengths > steps).any():
            raise ValueError(
                f"lengths must lie in 1..{steps} (zero-length sequences are not allowed), "
                f"got min {int(lengths.min())} max {int(lengths.max())}"
            )
        return lengths.to(torch.int64)

    def _prepare_state(
        self, hx: HiddenState | None, x: Tensor, sorted_indices: Tensor | None, unbatched: bool
    ) -> State:
        """Validate ``hx`` (or make zeros); return it as (L*D, B, ·) tensors in the sorted order."""
        batch = x.shape[1]
        sizes = self.spec.state_sizes(self.hidden_size, self.proj_size)
        layers = self.num_layers * self.num_directions
        if hx is None:
            return tuple(x.new_zeros(layers, batch, size) for size in sizes)
        names = ("h_0", "c_0")
        if self.spec.has_cell_state:
            if not isinstance(hx, tuple | list) or len(hx) != 2:
                raise TypeError(
                    f"cell {self.cell!r} expects hx = (h_0, c_0), a tuple of two tensors, got "
                    f"{type(hx).__name__}"
                )
            states = tuple(hx)
        else:
            if not isinstance(hx, Tensor):
                raise TypeError(
                    f"cell {self.cell!r} expects hx = h_0, a tensor, got {type(hx).__name__}"
                )
            states = (hx,)
        out = []
        for name, state, size in zip(names, states, sizes, strict=False):
            expected = (layers, size) if unbatched else (layers, batch, size)
            if not isinstance(state, Tensor) or tuple(state.shape) != expected:
                got = tuple(state.shape) if isinstance(state, Tensor) else type(state).__name__
                raise ValueError(
                    f"expected {name} of shape {expected} (num_layers*num_directions, "
                    f"{'' if unbatched else 'batch, '}size), got {got}"
                )
            self._check_tensor(name, state)
            state = state.unsqueeze(1) if unbatched else state
            out.append(state if sorted_indices is None else state.index_select(1, sorted_indices))
        return tuple(out)

    # ---------------------------------------------------------------- masks
    def draw_masks(self, batch: int, steps: int, reference_tensor: Tensor) -> list[StepMasks]:
        """The recurrent-dropout and zoneout masks of each layer and direction for one call
        (training: random draws; eval: no recurrent dropout and zoneout at its expected value)."""
        sizes = self.spec.state_sizes(self.hidden_size, self.proj_size)
        masks = []
        for _ in range(self.num_layers * self.num_directions):
            recurrent = None
            if self.recurrent_dropout and self.training:
                keep = 1.0 - self.recurrent_dropout
                recurrent = reference_tensor.new_empty(batch, sizes[0]).bernoulli_(keep) / keep
            zoneout = None
            if self.zoneout:
                if self.training:
                    zoneout = tuple(
                        reference_tensor.new_empty(steps, batch, size).bernoulli_(self.zoneout)
                        for size in sizes
                    )
                else:
                    rate = reference_tensor.new_full((1, 1, 1), self.zoneout)
                    zoneout = tuple(rate.expand(steps, batch, size) for size in sizes)
            masks.append(StepMasks(recurrent, zoneout))
        return masks

    # ---------------------------------------------------------------- forward
    def forward(
        self,
        input: Tensor | PackedSequence,
        hx: HiddenState | None = None,
        *,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor | PackedSequence, HiddenState]:
        """Run the stack; same inputs and outputs as ``torch.nn.LSTM/GRU/RNN.forward``."""
        x, lengths, sorted_indices, unsorted_indices, unbatched = self._prepare_input(
            input, lengths
        )
        state = self._prepare_state(hx, x, sorted_indices, unbatched)
        engine = self.engine_for(x)
        if engine == "native":
            output, final = self._forward_native(input, x, state, lengths)
            self.engine_used = "native"
        else:
            output, final = self._forward_layers(x, state, lengths, engine)
        return self._finish(input, output, final, lengths, unsorted_indices, unbatched)

    def engine_for(self, x: Tensor) -> str:
        """The engine a call with input ``x`` runs now: :attr:`engine` itself, or for
        ``"auto"`` the fastest for ``x``'s device and dtype in the current grad mode
        (:func:`rnnlab.nn.engines.auto.choose`)."""
        if self.engine != "auto":
            return self.engine
        return engines.auto.choose(
            self.spec,
            self.options,
            x,
            training=torch.is_grad_enabled(),
            stacked_dropout=self.training and self.dropout > 0 and self.num_layers > 1,
            autocast=_autocast_enabled(x.device),
        )

    def _forward_native(
        self, input: Tensor | PackedSequence, x: Tensor, state: State, lengths: Tensor | None
    ) -> tuple[Tensor, State]:
        """One fused call for the whole stack, exactly as torch.nn does."""
        common = {
            "bias": self.bias,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "training": self.training,
            "bidirectional": self.bidirectional,
        }
        if isinstance(input, PackedSequence):
            data, final = native.run_stack(
                self.spec,
                input.data,
                state,
                self._flat_weights,
                batch_first=False,
                batch_sizes=input.batch_sizes,
                **common,
            )
            return data, final
        if lengths is None:
            return native.run_stack(
                self.spec, x, state, self._flat_weights, batch_first=False, **common
            )
        packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
        state = tuple(s.index_select(1, packed.sorted_indices) for s in state)
        data, final = native.run_stack(
            self.spec,
            packed.data,
            state,
            self._flat_weights,
            batch_first=False,
            batch_sizes=packed.batch_sizes,
            **common,
        )
        out, _ = pad_packed_sequence(
            PackedSequence(
                data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices
            ),
            total_length=x.shape[0],
        )
        return out, tuple(s.index_select(1, packed.unsorted_indices) for s in final)

    def _forward_layers(
        self, x: Tensor, state: State, lengths: Tensor | None, engine: str
    ) -> tuple[Tensor, State]:
        """Layer by layer, direction by direction, with the per-layer function of ``engine``."""
        run = engines.ENGINES[engine]
        masks = self.draw_masks(x.shape[1], x.shape[0], x)
        finals: list[State] = []
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                params = self.layer_params(layer, direction)
                out, final = run(
                    self.spec,
                    layer_input,
                    tuple(s[k] for s in state),
                    params,
                    lengths=lengths,
                    reverse=direction == 1,
                    masks=masks[k],
                )
                if k == 0:  # every layer and direction takes the same path (same options)
                    self.engine_used = implementation(
                        engine, self.spec, layer_input, params, masks[k]
                    )
                outputs.append(out)
                finals.append(final)
            layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        return layer_input, tuple(torch.stack(parts) for parts in zip(*finals, strict=True))

    def _finish(
        self,
        input: Tensor | PackedSequence,
        output: Tensor,
        final: State,
        lengths: Tensor | None,
        unsorted_indices: Tensor | None,
        unbatched: bool,
    ) -> tuple[Tensor | PackedSequence, HiddenState]:
        """Shape the outputs like torch: packed/batch_first/unbatched, hx in the caller's order."""
        if unsorted_indices is not None:
            final = tuple(s.index_select(1, unsorted_indices) for s in final)
        if isinstance(input, PackedSequence):
            if output.dim() == 3:  # padded from the layer-by-layer path: pack in sorted order
                output = pack_padded_sequence(output, lengths, enforce_sorted=True).data
            result: Tensor | PackedSequence = PackedSequence(
                output, input.batch_sizes, input.sorted_indices, input.unsorted_indices
            )
        elif unbatched:
            result = output.squeeze(1)
            final = tuple(s.squeeze(1) for s in final)
        else:
            result = output.transpose(0, 1) if self.batch_first else output
        return result, (final if self.spec.has_cell_state else final[0])

    # ---------------------------------------------------------------- trace
    def trace(
        self,
        input: Tensor | PackedSequence,
        hx: HiddenState | None = None,
        *,
        lengths: Tensor | None = None,
    ) -> list[dict[str, Tensor]]:
        """Per-step internals of every layer and direction (order l0, l0_reverse, l1, ...),
        computed with the reference engine, in the autograd graph.

        Each dict has ``"h"`` (and ``"c"``) and one key per gate of ``CellSpec.gates``, each
        (T, B, size) time-major (batch order of the input; packed input in its sorted order).
        At padded steps (t >= length) states hold the last valid value and gates are not
        meaningful. ``"h"`` of the last layer is the layer's output (before inter-layer
        dropout): build a loss from it. ``"h_probe"`` (and ``"c_probe"``) are zero leaves
        added to the state at every step: after ``backward()``, ``trace[k]["h_probe"].grad``
        is the total dL/dh_t, through the outputs AND the recurrence (``"h"``'s own
        ``retain_grad()`` gives only the part through the outputs).
        """
        x, lengths, sorted_indices, _, unbatched = self._prepare_input(input, lengths)
        state = self._prepare_state(hx, x, sorted_indices, unbatched)
        masks = self.draw_masks(x.shape[1], x.shape[0], x)
        sizes = self.spec.state_sizes(self.hidden_size, self.proj_size)
        traces: list[dict[str, Tensor]] = []
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                probes = tuple(
                    x.new_zeros(x.shape[0], x.shape[1], size, requires_grad=True) for size in sizes
                )
                out, _, record = reference.run_traced(
                    self.spec,
                    layer_input,
                    tuple(s[k] for s in state),
                    self.layer_params(layer, direction),
                    lengths=lengths,
                    reverse=direction == 1,
                    masks=masks[k],
                    probes=probes,
                )
                record.update(
                    {f"{name}_probe": p for name, p in zip(("h", "c"), probes, strict=False)}
                )
                traces.append(record)
                outputs.append(out)
            layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        return traces

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if type(self) is Recurrent:  # the drop-in classes name their cell already
            text = f"{self.cell!r}, {text}"
        defaults = {
            "num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0,
            "bidirectional": False, "proj_size": 0, "layer_norm": False,
            "recurrent_dropout": 0.0, "zoneout": 0.0, "forget_bias": None,
        }  # fmt: skip
        for key, default in defaults.items():
            if getattr(self, key) != default:
                text += f", {key}={getattr(self, key)}"
        text += f", engine={self.engine!r}"
        if self.engine_used is not None:
            text += f", engine_used={self.engine_used!r}"
        return text


def make_rnn(cell: str, input_size: int, hidden_size: int, *args: Any, **kwargs: Any) -> Recurrent:
    """Build a :class:`Recurrent` stack of cell ``cell`` (see :class:`Recurrent` for the args).

    The options are :class:`Recurrent`'s own, forwarded unchanged; ``help(make_rnn)`` and
    :func:`inspect.signature` show them (the signature is copied from ``Recurrent``).
    """
    return Recurrent(cell, input_size, hidden_size, *args, **kwargs)


# One list of options, Recurrent's: make_rnn shows the same signature, returning Recurrent.
_RECURRENT_SIGNATURE = inspect.signature(Recurrent.__init__)
make_rnn.__signature__ = _RECURRENT_SIGNATURE.replace(  # type: ignore[attr-defined]
    parameters=list(_RECURRENT_SIGNATURE.parameters.values())[1:],  # without self
    return_annotation="Recurrent",
)


def count_params(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    bidirectional: bool = False,
    *,
    bias: bool = True,
    proj_size: int = 0,
    layer_norm: bool = False,
    **options: Any,
) -> int:
    """Number of parameters of ``make_rnn(cell, ...)``, from the cells' closed-form counts.

    ``options`` may hold the other keyword arguments of :func:`make_rnn` (dropout, zoneout,
    engine, ...), which do not change the count, so one keyword dict serves both functions.
    """
    unknown = set(options) - set(inspect.signature(make_rnn).parameters)
    if unknown:
        raise TypeError(f"count_params got unknown options {sorted(unknown)} (make_rnn has none)")
    spec = get_cell(cell)
    directions = 2 if bidirectional else 1
    layer_output = directions * (proj_size or hidden_size)
    total = 0
    for layer in range(num_layers):
        layer_input = input_size if layer == 0 else layer_output
        per_direction = spec.param_count(
            layer_input, hidden_size, bias=bias, proj_size=proj_size, layer_norm=layer_norm
        )
        total += directions * per_direction
    return total


class LSTM(Recurrent):
    """Drop-in ``torch.nn.LSTM`` (same arguments, state_dict and outputs), plus rnnlab's
    keyword-only options ``layer_norm``, ``recurrent_dropout``, ``zoneout``, ``forget_bias``,
    ``engine``, ``check_finite``."""

    mode = "LSTM"  # torch.nn.RNNBase.mode

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        **options: Any,
    ) -> None:
        super().__init__(
            "lstm", input_size, hidden_size, num_layers, bias=bias, batch_first=batch_first,
            dropout=dropout, bidirectional=bidirectional, proj_size=proj_size, device=device,
            dtype=dtype, **options,
        )  # fmt: skip


class GRU(Recurrent):
    """Drop-in ``torch.nn.GRU`` (same arguments, state_dict and outputs), plus rnnlab's
    keyword-only options (see :class:`LSTM`)."""

    mode = "GRU"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        **options: Any,
    ) -> None:
        super().__init__(
            "gru", input_size, hidden_size, num_layers, bias=bias, batch_first=batch_first,
            dropout=dropout, bidirectional=bidirectional, device=device, dtype=dtype, **options,
        )  # fmt: skip


class RNN(Recurrent):
    """Drop-in ``torch.nn.RNN`` (``nonlinearity`` ``"tanh"`` or ``"relu"``), plus rnnlab's
    keyword-only options (see :class:`LSTM`)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        **options: Any,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        super().__init__(
            f"rnn-{nonlinearity}", input_size, hidden_size, num_layers, bias=bias,
            batch_first=batch_first, dropout=dropout, bidirectional=bidirectional, device=device,
            dtype=dtype, **options,
        )  # fmt: skip
        self.nonlinearity = nonlinearity
        self.mode = f"RNN_{nonlinearity.upper()}"

    def extra_repr(self) -> str:
        base = super().extra_repr()
        return base if self.nonlinearity == "tanh" else f"{base}, nonlinearity='relu'"
