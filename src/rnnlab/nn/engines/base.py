"""Types shared by the engines, and the engine registry.

An engine runs ONE layer in ONE direction. It is a function

    run(spec, x, state, params, *, lengths, reverse, masks) -> (output, final_state)

- ``spec``: the :class:`~rnnlab.nn.cells.CellSpec` of the cell;
- ``x``: (T, B, I) time-major, zero-padded input;
- ``state``: ``(h0,)`` or ``(h0, c0)``, each (B, ·) (h0 is (B, proj_size) with projection);
- ``params``: torch's parameter names without the layer suffix (``weight_ih``, ``weight_hh``,
  ``bias_ih``, ``bias_hh``, ``weight_hr``, ``weight_ci``..., ``ln_ih_weight``...) -> tensors;
- ``lengths``: (B,) int64 on any device, each in 1..T, or None (all sequences have length T);
- ``reverse``: process each sequence backwards within its own length;
- ``masks``: :class:`StepMasks` drawn by the layer, so every engine gives the same numbers.

It returns the output (T, B, H_out), zero at padded steps, and the final state (the state at
each sequence's last valid step), a tuple shaped like ``state``.

Engines register themselves with :func:`register_engine` when their module is imported;
``rnnlab.nn.engines`` imports every engine module. ``supports(spec, options)`` says whether
the engine can run a configuration; ``engine="auto"`` takes the first engine of
``AUTO_ORDER`` that supports it, and per call :mod:`rnnlab.nn.engines.auto` picks the fastest
for the input's device and the grad mode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from rnnlab.nn.cells import CellSpec, State


@dataclass(frozen=True)
class StepMasks:
    """Random masks of one layer and direction, drawn by the layer.

    Attributes:
        recurrent: (B, H_h) variational recurrent-dropout mask, already scaled by 1/(1-p);
            multiplies h_{t-1} where it enters the recurrent projection, the same at every step
            (Gal & Ghahramani 2016). None: no recurrent dropout.
        zoneout: one tensor per state component, each broadcastable to (T, B, size), indexed
            by the padded time step t: the probability (eval) or 0/1 draw (training) of KEEPING
            the previous value, ``s_t = m_t * s_{t-1} + (1 - m_t) * s~_t`` (Krueger et al. 2017).
            None: no zoneout.
    """

    recurrent: Tensor | None = None
    zoneout: tuple[Tensor, ...] | None = None


NO_MASKS = StepMasks()


@dataclass(frozen=True)
class LayerOptions:
    """The layer options an engine may need to decide whether it supports a configuration."""

    proj_size: int = 0
    bias: bool = True
    layer_norm: bool = False
    recurrent_dropout: float = 0.0
    zoneout: float = 0.0


class RunFn(Protocol):
    """Signature of an engine's ``run`` (see the module docstring)."""

    def __call__(
        self,
        spec: CellSpec,
        x: Tensor,
        state: State,
        params: dict[str, Tensor],
        *,
        lengths: Tensor | None,
        reverse: bool,
        masks: StepMasks,
    ) -> tuple[Tensor, State]: ...


SupportsFn = Callable[[CellSpec, LayerOptions], bool]

ENGINES: dict[str, RunFn] = {}
"""Registered engines: name -> run function."""

ENGINE_SUPPORTS: dict[str, SupportsFn] = {}
"""Registered engines: name -> supports(spec, options)."""

AUTO_ORDER = ("native", "scan", "loop", "reference")
"""Preference of ``engine="auto"`` before device and mode are known: the first registered
engine that supports the config; :mod:`rnnlab.nn.engines.auto` then swaps ``native`` for
``loop`` where the loop engine's C++ kernels are faster (CPU)."""


def valid_steps(steps: int, lengths: Tensor, device: torch.device) -> Tensor:
    """(T, B) bool on ``device``: True at the steps each sequence really has (t < its length)."""
    return torch.arange(steps, device=device)[:, None] < lengths.to(device)


def register_engine(name: str, run: RunFn, supports: SupportsFn | None = None) -> None:
    """Register engine ``name`` (``supports`` None: every configuration)."""
    ENGINES[name] = run
    ENGINE_SUPPORTS[name] = supports if supports is not None else (lambda spec, options: True)


def resolve_engine(engine: str, spec: CellSpec, options: LayerOptions) -> str:
    """The engine name to use: ``engine`` itself (checked) or the ``"auto"`` choice."""
    if engine == "auto":
        return next(
            name for name in AUTO_ORDER if name in ENGINES and ENGINE_SUPPORTS[name](spec, options)
        )
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: expected 'auto' or one of {sorted(ENGINES)}")
    if not ENGINE_SUPPORTS[engine](spec, options):
        usable = [n for n in sorted(ENGINES) if ENGINE_SUPPORTS[n](spec, options)]
        raise ValueError(
            f"engine {engine!r} does not support cell {spec.name!r} with {options}; "
            f"engines that do: {usable}"
        )
    return engine
