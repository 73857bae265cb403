"""Gate statistics from ``Recurrent.trace``: mean activation and saturation of each gate.

A sigmoid gate is *saturated* at a step when its activation is below 0.05 or above 0.95: it
then passes (or blocks) almost everything and its gradient σ' is nearly zero. The candidate
values (LSTM ``g``, GRU ``n``) are tanh outputs, not gates, and are left out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnlab.diagnose.gradients import find_recurrent

#: Trace keys that hold tanh candidates rather than sigmoid gates.
CANDIDATES = frozenset({"g", "n"})
LOW, HIGH = 0.05, 0.95


def record_traces(model_or_rnn: nn.Module, batch: Any) -> list[dict[str, Tensor]]:
    """``Recurrent.trace`` of the recurrent layer on what the model feeds it for ``batch``.

    For a bare layer ``batch`` is its input (or has an ``x``); for a task model the layer's
    input is captured while the model computes its metrics on ``batch``.
    """
    rnn = find_recurrent(model_or_rnn)
    if not hasattr(rnn, "trace"):
        raise TypeError(
            f"gate statistics need an rnnlab recurrent layer with trace(), got {type(rnn).__name__}"
        )
    if model_or_rnn is rnn:
        inputs: tuple = (getattr(batch, "x", batch),)
    else:
        captured: list[tuple] = []
        handle = rnn.register_forward_pre_hook(lambda _m, args: captured.append(args))
        try:
            with torch.no_grad():
                metrics = getattr(model_or_rnn, "metrics", None) or model_or_rnn.loss
                metrics(batch)
        finally:
            handle.remove()
        if not captured:
            raise RuntimeError("the model never called its recurrent layer")
        inputs = captured[0]
    with torch.no_grad():
        return rnn.trace(*inputs)


def gate_statistics(
    model_or_rnn: nn.Module, batch: Any, *, layer: int = 0
) -> dict[str, dict[str, np.ndarray]]:
    """Per gate of one layer (index into the trace list, default the first): arrays

    - ``mean`` (T,): mean activation at each step, over batch and units;
    - ``saturation`` (T,): fraction of activations < 0.05 or > 0.95 at each step;
    - ``overall_mean``, ``overall_saturation``: the same over all steps (0-d arrays).

    Cells without gates (tanh RNN) give an empty dict.
    """
    trace = record_traces(model_or_rnn, batch)[layer]
    stats = {}
    for name, values in trace.items():
        if name in ("h", "c") or name.endswith("_probe") or name in CANDIDATES:
            continue
        acts = values.detach().double()
        saturated = ((acts < LOW) | (acts > HIGH)).double()
        stats[name] = {
            "mean": acts.mean(dim=(1, 2)).numpy(),
            "saturation": saturated.mean(dim=(1, 2)).numpy(),
            "overall_mean": np.asarray(float(acts.mean())),
            "overall_saturation": np.asarray(float(saturated.mean())),
        }
    return stats
