"""Device selection and moving batches to a device."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

import torch
from torch.nn.utils.rnn import PackedSequence

from rnnlab.errors import UserInputError

T = TypeVar("T")


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` is CUDA when available, else CPU; any other value is a torch device name."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        message = f"device must be 'auto', 'cpu', 'cuda[:N]', ...; got {device!r}"
        raise UserInputError(message) from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise UserInputError(f"device {device!r} was asked for but CUDA is not available")
    return resolved


def to_device(obj: T, device: torch.device) -> T:
    """Move every tensor inside ``obj`` to ``device``.

    Handles tensors, ``PackedSequence``, dataclasses (such as ``rnnlab.data.containers.Batch``),
    named tuples, tuples, lists and dicts, recursively; anything else is returned as is.
    Host-to-GPU copies are non-blocking (they overlap compute when the memory is pinned).
    """
    if isinstance(obj, torch.Tensor | PackedSequence):
        return obj.to(device, non_blocking=True)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        moved = {
            field.name: to_device(getattr(obj, field.name), device)
            for field in dataclasses.fields(obj)
            if field.init
        }
        return dataclasses.replace(obj, **moved)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(to_device(item, device) for item in obj))
    if isinstance(obj, list | tuple):
        return type(obj)(to_device(item, device) for item in obj)
    if isinstance(obj, dict):
        return type(obj)((key, to_device(value, device)) for key, value in obj.items())
    return obj


def batch_weight(batch: Any) -> int:
    """Weight of a batch in validation averages: its length (``len(Batch)`` is the batch size).

    Containers (tuples, lists, dicts) and objects without a length weigh 1.
    """
    if isinstance(batch, list | tuple | dict) or not hasattr(batch, "__len__"):
        return 1
    return len(batch)
