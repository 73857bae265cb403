"""``engine="auto"``: the fastest engine that gives the same numbers, per device and mode.

The rule follows ``rnnlab bench`` (docs/performance.md): on the CPU, in float32/float64, the
loop engine's C++ kernels beat torch's own kernels for training every cell torch has (LSTM,
GRU, Elman), and for inference of the GRU and Elman cells; for LSTM inference torch's oneDNN
kernel is at least as fast, so it stays. Everywhere else (CUDA: cuDNN; half precision or autocast;
LSTM projection; no C++ compiler) torch's kernel is the fastest where torch has the cell. Cells
torch does not have go to ``scan`` (minGRU, minLSTM) or ``loop`` as before, and so do the
options torch lacks (LayerNorm, recurrent dropout, zoneout).

"Training" means autograd is recording (``torch.is_grad_enabled()``), the mode in which the
engines keep activations for a backward pass. Between stacked layers in training, dropout
draws its masks from torch's generator inside torch's kernel; ``auto`` then keeps that kernel,
so a seeded run gives the same numbers as ``torch.nn``.
"""

from __future__ import annotations

from torch import Tensor

from rnnlab.nn.cells import CellSpec
from rnnlab.nn.engines import loop
from rnnlab.nn.engines.base import ENGINES, LayerOptions, resolve_engine
from rnnlab.nn.kernels import extension

NATIVE_FOR_INFERENCE = ("lstm",)
"""Cells whose inference stays on torch's kernel on the CPU (oneDNN's LSTM is as fast)."""


def choose(
    spec: CellSpec,
    options: LayerOptions,
    x: Tensor,
    *,
    training: bool,
    stacked_dropout: bool,
    autocast: bool = False,
) -> str:
    """The engine ``auto`` runs for input ``x`` (its device and dtype) in this mode.

    ``training``: autograd records the call; ``stacked_dropout``: dropout between stacked
    layers is active in this call (then torch's kernel stays, for torch's random draws);
    ``autocast``: autocast (mixed precision) is on for ``x``'s device, which torch's kernels
    follow and the C++ kernels (float32/float64 only) do not.
    """
    engine = resolve_engine("auto", spec, options)  # the first of AUTO_ORDER that applies
    if engine != "native" or stacked_dropout or autocast or options.proj_size:
        return engine
    if not training and spec.name in NATIVE_FOR_INFERENCE:
        return "native"
    cpp = loop.CPP_KERNELS.get(spec.name)
    if "loop" in ENGINES and cpp is not None and extension.can_run(cpp[0], x):
        return "loop"
    return "native"
