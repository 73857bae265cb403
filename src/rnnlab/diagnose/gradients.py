"""Gradient flow through time: how much of the loss signal reaches each earlier step.

For a recurrent network with states h_1 … h_T and a loss L, ``gradient_flow`` measures
‖∂L/∂h_t‖ for every t. With the loss at the end of the sequence this is the quantity of
Bengio et al. (1994) and Pascanu et al. (2013): it shrinks (vanishing) or grows (exploding)
roughly geometrically in T − t, at a per-step rate ``decay_rate`` fits. The step Jacobian
∂s_t/∂s_{t−1} (s = h, or (h, c) for LSTM) bounds that rate: ``step_jacobian_norms`` gives
its spectral norm along a real trajectory.

The network is driven one time step per call (state fed back through ``hx``), which works
for every engine of :func:`rnnlab.nn.make_rnn` and for ``torch.nn.LSTM/GRU/RNN`` alike, and
keeps each step's state as a separate node of the autograd graph.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

State = Tensor | tuple[Tensor, Tensor]


def find_recurrent(model: nn.Module) -> nn.Module:
    """Return the recurrent layer of ``model`` (the model itself if it is one).

    A recurrent layer is a ``torch.nn.RNNBase`` or an ``rnnlab.nn`` ``Recurrent`` (anything with
    ``trace``, ``batch_first`` and ``hidden_size``). The first one found in module order wins.
    """
    for module in model.modules():
        if isinstance(module, nn.RNNBase) or (
            hasattr(module, "trace") and hasattr(module, "batch_first")
        ):
            return module
    name = type(model).__name__
    raise TypeError(f"{name} holds no recurrent layer (torch.nn.RNNBase or Recurrent)")


def _check_unidirectional(rnn: nn.Module) -> None:
    if getattr(rnn, "bidirectional", False):
        raise ValueError(
            "gradient flow needs a unidirectional recurrent layer: a bidirectional one has no "
            "single time arrow along which to follow the gradient"
        )


def _hidden(state: State) -> Tensor:
    return state[0] if isinstance(state, tuple) else state


def _run_stepwise(
    rnn: nn.Module, step: Callable[..., Any], x: Tensor, hx: State | None
) -> tuple[Tensor, State, list[State]]:
    """Run ``step`` (the layer's own forward) one time step at a time.

    Returns the output (built from the top layer's state so that every gradient into an
    output reaches that step's state), the final state and the state after every step.
    """
    time_dim = 1 if rnn.batch_first else 0
    if x.dim() != 3:
        raise ValueError(f"expected a batched 3-D input tensor, got shape {tuple(x.shape)}")
    states: list[State] = []
    outputs = []
    state = hx
    for t in range(x.shape[time_dim]):
        _, state = step(x.narrow(time_dim, t, 1), state)
        states.append(state)
        outputs.append(_hidden(state)[-1].unsqueeze(time_dim))
    return torch.cat(outputs, time_dim), state, states


@contextlib.contextmanager
def _stepwise_forward(rnn: nn.Module, record: list[State]) -> Iterator[None]:
    """Make ``rnn.forward`` run step by step for the duration, appending states to ``record``."""
    original = rnn.forward

    def forward(input: Tensor, hx: State | None = None) -> tuple[Tensor, State]:
        if isinstance(input, nn.utils.rnn.PackedSequence):
            raise ValueError("gradient flow needs a padded tensor batch, not a PackedSequence")
        output, state, states = _run_stepwise(rnn, original, input, hx)
        record.extend(states)
        return output, state

    rnn.forward = forward
    try:
        yield
    finally:
        del rnn.forward  # back to the class's method


def _scalar_loss(value: Any) -> Tensor:
    """Accept what a head's ``loss`` returns: a tensor, ``(loss, ...)`` or ``{"loss": ...}``."""
    if isinstance(value, dict):
        value = value["loss"]
    elif isinstance(value, tuple | list):
        value = value[0]
    if not isinstance(value, Tensor) or value.numel() != 1:
        raise TypeError(f"loss must be a scalar tensor, got {type(value).__name__}")
    return value.reshape(())


def gradient_flow(
    model_or_rnn: nn.Module, batch: Any, *, layer: int = -1, loss_fn: Callable | None = None
) -> np.ndarray:
    """Norm of ∂L/∂h_t for every time step t, averaged over the batch: an array of shape (T,).

    Args:
        model_or_rnn: a recurrent layer (``make_rnn(...)``, ``torch.nn.LSTM``, ...) or a task
            model holding one (it must have ``loss(batch)``).
        batch: for a bare layer, the input tensor (or anything with an ``x`` attribute); the loss
            is then the sum of the last step's output features, averaged over the batch — a loss
            at the end of the sequence. For a model, the batch its ``loss`` accepts.
        layer: which layer's hidden state h_t to measure (default: the top layer).
        loss_fn: optional ``loss_fn(model, batch) -> scalar`` replacing ``model.loss(batch)``.

    The parameters' ``.grad`` are left untouched, so this can run in the middle of training.
    """
    rnn = find_recurrent(model_or_rnn)
    _check_unidirectional(rnn)
    record: list[State] = []
    with _stepwise_forward(rnn, record):
        if model_or_rnn is rnn and loss_fn is None:
            x = getattr(batch, "x", batch)
            output, _ = rnn(x)
            last = output.select(1 if rnn.batch_first else 0, -1)
            loss = last.sum(dim=-1).mean()
        elif loss_fn is not None:
            loss = _scalar_loss(loss_fn(model_or_rnn, batch))
        else:
            loss = _scalar_loss(model_or_rnn.loss(batch))
    hidden = [_hidden(state) for state in record]
    grads = torch.autograd.grad(loss, hidden, allow_unused=True)
    norms = []
    for h, g in zip(hidden, grads, strict=True):
        if g is None:
            norms.append(0.0)
        else:  # (layers, B, H) -> mean over the batch of the per-sample norm
            norms.append(float(g[layer].detach().double().norm(dim=-1).mean()))
        del h
    return np.asarray(norms)


def decay_rate(norms: np.ndarray) -> float:
    """Per-step factor r fitted to ``norms[t] ≈ norms[T-1] · r^(T-1-t)`` (least squares in log).

    r < 1: the gradient vanishes going back in time; r > 1: it explodes. Zero or non-finite
    norms are left out of the fit; ``nan`` when fewer than two points remain.
    """
    norms = np.asarray(norms, dtype=float)
    steps_back = np.arange(len(norms))[::-1]
    keep = np.isfinite(norms) & (norms > 0)
    if keep.sum() < 2:
        return float("nan")
    slope, _ = np.polyfit(steps_back[keep], np.log(norms[keep]), 1)
    return float(np.exp(slope))


def _flatten_state(state: State) -> Tensor:
    """(layers, B, H) [+ c] -> (B, S) with S = layers × (H [+ H_c])."""
    parts = state if isinstance(state, tuple) else (state,)
    return torch.cat([p.transpose(0, 1).reshape(p.shape[1], -1) for p in parts], dim=1)


def _unflatten_state(flat: Tensor, like: State) -> State:
    parts = like if isinstance(like, tuple) else (like,)
    out, start = [], 0
    for p in parts:
        layers, batch, width = p.shape
        size = layers * width
        chunk = flat[:, start : start + size].reshape(batch, layers, width).transpose(0, 1)
        out.append(chunk.contiguous())
        start += size
    return tuple(out) if isinstance(like, tuple) else out[0]


def step_jacobian_norms(rnn: nn.Module, x: Tensor) -> np.ndarray:
    """Spectral norm of the step Jacobian ∂s_t/∂s_{t−1} along the trajectory driven by ``x``.

    ``s`` is the whole recurrent state: h of every layer, plus c for LSTM cells; s_0 = 0.
    Returns an array of shape (T, B). Exact (one Jacobian per step and sample, by autograd),
    so meant for small hidden sizes.
    """
    rnn = find_recurrent(rnn)
    _check_unidirectional(rnn)
    if x.dim() != 3:
        raise ValueError(f"expected a batched 3-D input tensor, got shape {tuple(x.shape)}")
    time_dim = 1 if rnn.batch_first else 0
    batch_dim = 1 - time_dim
    with torch.no_grad():
        _, _, states = _run_stepwise(rnn, rnn.forward, x, None)
    zeros = (
        tuple(torch.zeros_like(p) for p in states[0])
        if isinstance(states[0], tuple)
        else (torch.zeros_like(states[0]))
    )
    norms = np.zeros((x.shape[time_dim], x.shape[batch_dim]))
    for t, previous in enumerate([zeros, *states[:-1]]):
        flat_previous = _flatten_state(previous)
        for b in range(flat_previous.shape[0]):
            x_tb = x.narrow(time_dim, t, 1).narrow(batch_dim, b, 1)
            template = _one_sample(previous)

            def step(flat: Tensor, x_tb: Tensor = x_tb, template: State = template) -> Tensor:
                _, new = rnn(x_tb, _unflatten_state(flat.unsqueeze(0), template))
                return _flatten_state(new).squeeze(0)

            jac = torch.autograd.functional.jacobian(step, flat_previous[b].detach())
            norms[t, b] = float(torch.linalg.matrix_norm(jac.double(), ord=2))
    return norms


def _one_sample(state: State) -> State:
    """Shape template of one sample's state (batch size 1)."""
    if isinstance(state, tuple):
        return tuple(p[:, :1] for p in state)
    return state[:, :1]
