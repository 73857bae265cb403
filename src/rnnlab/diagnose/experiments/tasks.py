"""The synthetic tasks and parameter-matched task models that the claims' probes train."""

from __future__ import annotations

import math
from typing import Any

import torch

from rnnlab.data.synthetic import make_task
from rnnlab.errors import UserInputError
from rnnlab.models import SequenceRegressor, SequenceTagger, match_hidden_size

#: Arm label -> encoder name of :func:`rnnlab.models.make_encoder`.
ENCODERS = {"lstm": "lstm", "gru": "gru", "rnn": "rnn-tanh", "tcn": "tcn", "bilstm": "bilstm"}
#: Per task: the metric reported, whether higher is better, and the "solved" threshold.
TASK_METRICS = {"adding": ("mse", False, 0.01), "copy": ("recall_accuracy", True, 0.99)}
TCN_KERNEL = 3


def build_task(task: str, length: int, options: dict[str, Any], seed: int, val_size: int):
    """The synthetic task of a run (validation and test sets of ``val_size`` sequences)."""
    return make_task(task, length, seed=seed, val_size=val_size, test_size=val_size, **options)


def _sequence_length(task) -> int:
    return task.length + 2 * task.memory if task.name == "copy" else task.length


def _encoder_options(arm: str, options: dict[str, Any], sequence_length: int) -> dict[str, Any]:
    if ENCODERS[arm] != "tcn":
        return dict(options)
    # enough levels for the receptive field 1 + 2 (k - 1)(2^L - 1) to span the sequence
    levels = math.ceil(math.log2((sequence_length - 1) / (2 * (TCN_KERNEL - 1)) + 1))
    return {"kernel_size": TCN_KERNEL, "num_layers": max(1, levels), **options}


def build_model(task, arm: str, hidden_size: int, options: dict[str, Any]) -> torch.nn.Module:
    """The task model for ``arm`` (a key of :data:`ENCODERS`) at ``hidden_size``."""
    opts = _encoder_options(arm, options, _sequence_length(task))
    num_layers = opts.pop("num_layers", 1)
    common = {
        "encoder": ENCODERS[arm],
        "input_size": task.input_size,
        "hidden_size": hidden_size,
        "num_layers": num_layers,
        "encoder_options": opts,
    }
    if task.kind == "regression":
        return SequenceRegressor(**common)
    if task.kind == "tagging":
        return SequenceTagger(num_classes=task.num_classes, recall_steps=task.memory, **common)
    raise UserInputError(f"claims experiments support adding and copy, not {task.name!r}")


def matched_hidden_size(task, arm: str, params: int, options: dict[str, Any]) -> int:
    """Hidden size whose model lands closest to ``params`` (rnnlab.models' matching).

    Within 3 % where some hidden size gets there; tiny budgets, where one unit more changes
    the count by more than that, accept the closest size within 15 %.
    """

    def build(hidden: int) -> torch.nn.Module:
        return build_model(task, arm, hidden, options)

    try:
        hidden, _ = match_hidden_size(build, params)
    except UserInputError:
        hidden, _ = match_hidden_size(build, params, tolerance=0.15)
    return hidden
