"""What every task model shares: the ``loss`` / ``metrics`` protocol, masks and input layers.

A task model is a ``torch.nn.Module`` with

- ``config``: the dataclass it was built from (``type(model)(**asdict(model.config))`` rebuilds
  it, which is how checkpoints and comparison runs recreate models);
- ``loss(batch) -> Tensor``: the scalar training objective of a :class:`rnnlab.data.Batch`;
- ``metrics(batch) -> dict[str, float]``: the task metric(s) plus ``"loss"``, computed without
  gradients and in eval mode (dropout off), the model's mode being restored afterwards.

so one generic trainer can train and evaluate any of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from rnnlab.data.containers import Batch
from rnnlab.errors import UserInputError

ConfigT = TypeVar("ConfigT")


def resolve_config(config_type: type[ConfigT], config: ConfigT | None, kwargs: dict) -> ConfigT:
    """``config`` itself, or ``config_type(**kwargs)``; both at once is an error."""
    if config is not None:
        if kwargs:
            raise TypeError(f"pass either a {config_type.__name__} or keyword arguments, not both")
        if not isinstance(config, config_type):
            raise TypeError(
                f"expected a {config_type.__name__}, got {type(config).__name__}; "
                f"build it with {config_type.__name__}(...)"
            )
        return config
    return config_type(**kwargs)


class TaskModel(nn.Module):
    """Base class: subclasses implement :meth:`loss` and :meth:`_metrics`."""

    config: Any

    def loss(self, batch: Batch) -> Tensor:
        """Scalar training loss of ``batch``."""
        raise NotImplementedError

    def _metrics(self, batch: Batch) -> dict[str, float]:
        raise NotImplementedError

    def metrics(self, batch: Batch) -> dict[str, float]:
        """Task metrics and ``"loss"`` on ``batch``, in eval mode and without gradients."""
        with self.evaluating():
            return self._metrics(batch)

    @contextmanager
    def evaluating(self) -> Iterator[None]:
        """Eval mode and no gradients inside the block; the previous mode is restored."""
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            self.train(was_training)

    def config_dict(self) -> dict[str, Any]:
        """The config as a plain dict (JSON-friendly)."""
        return dataclasses.asdict(self.config)


def check_num_classes(num_classes: int) -> None:
    """UserInputError unless there are at least two classes."""
    if num_classes < 2:
        raise UserInputError(f"num_classes must be at least 2, got {num_classes}")


def check_labels(labels: Tensor, num_classes: int) -> None:
    """UserInputError unless every label is a class index 0..num_classes-1 (cross-entropy would
    fail with a bare IndexError, or a device-side assert on CUDA)."""
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise UserInputError(
            f"labels must be class indices 0..{num_classes - 1} (num_classes={num_classes}), "
            f"got values from {int(labels.min())} to {int(labels.max())}"
        )


def length_mask(
    lengths: Tensor | None, steps: int, batch_size: int, device: torch.device
) -> Tensor:
    """Bool (B, T): True at valid steps ``t < lengths[b]`` (all True when lengths is None)."""
    if lengths is None:
        return torch.ones(batch_size, steps, dtype=torch.bool, device=device)
    return torch.arange(steps, device=device)[None, :] < lengths.to(device)[:, None]


def check_lengths(lengths: Tensor | None, batch_size: int, steps: int) -> None:
    """Raise a clear error unless ``lengths`` is None or int (B,) within [1, T]."""
    if lengths is None:
        return
    if lengths.dtype not in (torch.int64, torch.int32) or lengths.shape != (batch_size,):
        raise UserInputError(
            f"lengths must be an integer tensor of shape ({batch_size},), got dtype "
            f"{lengths.dtype} and shape {tuple(lengths.shape)}"
        )
    if batch_size and (int(lengths.min()) < 1 or int(lengths.max()) > steps):
        raise UserInputError(
            f"lengths must lie in [1, {steps}] (the padded length), got min "
            f"{int(lengths.min())} and max {int(lengths.max())}"
        )


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` (B, T) over the True entries of ``mask`` (B, T)."""
    return (values * mask).sum() / mask.sum().clamp(min=1)


class InputLayer(nn.Module):
    """Float features pass through; token ids (int64) go through an embedding.

    Args:
        input_size: features per step, or the vocabulary size when ``embedding_dim`` is set.
        embedding_dim: embed token ids ``[0, input_size)`` to this size (id 0 is padding).
    """

    def __init__(self, input_size: int, embedding_dim: int | None = None) -> None:
        super().__init__()
        self.tokens = embedding_dim is not None
        self.input_size = input_size
        self.embedding = (
            nn.Embedding(input_size, embedding_dim, padding_idx=0) if self.tokens else None
        )
        self.output_size = embedding_dim if self.tokens else input_size

    def forward(self, x: Tensor) -> Tensor:
        """(B, T) int64 ids -> (B, T, E), or (B, T, I) floats unchanged (after checks)."""
        if self.embedding is not None:
            if x.dtype != torch.int64 or x.dim() != 2:
                raise UserInputError(
                    f"this model embeds token ids: expected int64 input (B, T), got dtype "
                    f"{x.dtype} and shape {tuple(x.shape)}"
                )
            if x.numel() and (int(x.min()) < 0 or int(x.max()) >= self.input_size):
                raise UserInputError(
                    f"token ids must lie in [0, {self.input_size}), got range "
                    f"[{int(x.min())}, {int(x.max())}]"
                )
            return self.embedding(x)
        if not x.is_floating_point() or x.dim() != 3 or x.shape[-1] != self.input_size:
            raise UserInputError(
                f"expected float input (B, T, {self.input_size}), got dtype {x.dtype} and "
                f"shape {tuple(x.shape)} (token ids need embedding_dim set)"
            )
        return x
