"""Atomic checkpoint files.

A checkpoint is written to a temporary file in the same directory, flushed to disk and renamed
over the previous one, so a crash (even ``kill -9``) leaves either the old or the new file,
never a half-written one. Files load with ``torch.load(weights_only=True)``: they hold only
tensors and plain Python types.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from rnnlab.errors import UserInputError

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT = "rnnlab-train-checkpoint"
FORMAT_VERSION = 1
_TEMP_PREFIX = f".{CHECKPOINT_NAME}."
_TEMP_SUFFIX = ".tmp"
REQUIRED_KEYS = frozenset(
    ("config", "model", "optimizer", "schedule", "rng", "progress", "best_weights", "result")
)


class CheckpointError(UserInputError):
    """A checkpoint file that cannot be used: unreadable, truncated, or not an rnnlab checkpoint."""


def checkpoint_path(directory: str | os.PathLike[str]) -> Path:
    """Path of the checkpoint file inside a run's checkpoint directory."""
    return Path(directory) / CHECKPOINT_NAME


def save_checkpoint(payload: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``payload`` to ``path`` atomically (temp file + fsync + rename + directory fsync)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp_name = tempfile.mkstemp(
        prefix=_TEMP_PREFIX, suffix=_TEMP_SUFFIX, dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            torch.save({"format": FORMAT, "version": FORMAT_VERSION, **payload}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_directory(path.parent)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises:
        CheckpointError: the file is missing, truncated, corrupt, or not an rnnlab checkpoint.
    """
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as error:
        raise CheckpointError(f"checkpoint {path} does not exist") from error
    except Exception as error:  # torch raises many types for damaged files; all mean the same
        raise CheckpointError(
            f"checkpoint {path} is corrupt or truncated and cannot be loaded "
            f"({type(error).__name__}); delete it to start the run afresh"
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an rnnlab training checkpoint")
    if payload.get("version") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {payload.get('version')!r}; "
            f"this rnnlab reads version {FORMAT_VERSION}"
        )
    missing = REQUIRED_KEYS - payload.keys()
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks {', '.join(sorted(missing))}")
    return payload


def remove_stale_temp_files(directory: str | os.PathLike[str]) -> None:
    """Delete temporary files left by a process killed in the middle of a write."""
    for stale in Path(directory).glob(f"{_TEMP_PREFIX}*{_TEMP_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not supported on every platform (e.g. Windows).
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
