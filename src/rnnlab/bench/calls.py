"""One timed call: an engine's ``run`` or a torch.nn module on fixed inputs, in a mode."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from rnnlab.bench.cases import Variant
from rnnlab.nn.cells import CELLS, CellSpec
from rnnlab.nn.engines import ENGINES, StepMasks, scan
from rnnlab.nn.engines.loop import kernel_path


def baseline_module(spec: CellSpec, input_size: int, hidden: int) -> tuple[str, torch.nn.Module]:
    if spec.has_cell_state:
        return "nn.LSTM", torch.nn.LSTM(input_size, hidden)
    if spec.name in ("rnn-tanh", "rnn-relu", "indrnn"):
        nonlinearity = "tanh" if spec.name == "rnn-tanh" else "relu"
        return f"nn.RNN({nonlinearity})", torch.nn.RNN(
            input_size, hidden, nonlinearity=nonlinearity
        )
    return "nn.GRU", torch.nn.GRU(input_size, hidden)


def _make_inputs(
    variant: Variant, size: tuple[int, int, int, int], device: torch.device, seed: int
) -> tuple[Tensor, tuple[Tensor, ...], dict[str, Tensor], StepMasks]:
    spec = CELLS[variant.cell]
    steps, batch, input_size, hidden = size
    gen = torch.Generator().manual_seed(seed)
    bound = hidden**-0.5
    params = {
        name: ((torch.rand(shape, generator=gen) * 2 - 1) * bound).to(device).requires_grad_()
        for name, shape in spec.param_shapes(
            input_size, hidden, layer_norm=variant.layer_norm
        ).items()
    }
    x = torch.randn(steps, batch, input_size, generator=gen).to(device).requires_grad_()
    state = tuple(torch.zeros(batch, s, device=device) for s in spec.state_sizes(hidden))
    recurrent = zoneout = None
    if variant.recurrent_dropout:
        keep = 1 - variant.recurrent_dropout
        recurrent = (torch.rand(batch, hidden, generator=gen) < keep).float().to(device) / keep
    if variant.zoneout:
        zoneout = tuple(
            (torch.rand(steps, batch, s, generator=gen) < variant.zoneout).float().to(device)
            for s in spec.state_sizes(hidden)
        )
    return x, state, params, StepMasks(recurrent=recurrent, zoneout=zoneout)


def in_mode(fn: Callable[[], tuple[Tensor, tuple[Tensor, ...]]], mode: str) -> Callable[[], None]:
    def forward() -> None:
        with torch.no_grad():
            fn()

    def train() -> None:
        output, final = fn()
        loss = output.sum() + sum(s.sum() for s in final)
        loss.backward()

    return forward if mode == "forward" else train


def engine_call(
    variant: Variant, engine: str, size: tuple[int, int, int, int], device: torch.device, mode: str
) -> tuple[Callable[[], None], str | None]:
    """One call of ``engine``'s ``run`` for ``variant`` at ``size`` in ``mode`` (fixed inputs),
    and the path the loop engine (``cpp``, ``fused`` or ``generic``) or the scan engine
    (``cpp`` or ``chunked``) takes."""
    x, state, params, masks = _make_inputs(variant, size, device, seed=0)
    spec, run = CELLS[variant.cell], ENGINES[engine]

    def fn() -> tuple[Tensor, tuple[Tensor, ...]]:
        return run(spec, x, state, params, lengths=None, reverse=False, masks=masks)

    path = None
    if engine == "loop":
        path = kernel_path(spec, params, masks, x)
    elif engine == "scan":
        path = scan.kernel_path(x)
    return in_mode(fn, mode), path


def baseline_fn(
    module: torch.nn.Module, x: Tensor
) -> Callable[[], tuple[Tensor, tuple[Tensor, ...]]]:
    def fn() -> tuple[Tensor, tuple[Tensor, ...]]:
        output, final = module(x)
        return output, final if isinstance(final, tuple) else (final,)

    return fn
