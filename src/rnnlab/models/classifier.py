"""Many-to-one sequence classifier: encoder -> pooled summary -> linear layer -> class logits.

Variable-length batches are packed for recurrent encoders, so padding never changes a
sequence's result. Pooling ``"last"`` uses the final state (both directions of a bidirectional
encoder); ``"mean"`` averages the outputs over the valid steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.data.containers import Batch
from rnnlab.deprecation import deprecated_aliases
from rnnlab.errors import UserInputError
from rnnlab.models.common import (
    InputLayer,
    TaskModel,
    check_labels,
    check_num_classes,
    length_mask,
    resolve_config,
)
from rnnlab.models.encoder import encoder_from_config

POOLINGS = ("last", "mean")


@dataclass
class ClassifierNetConfig:
    """Configuration of :class:`ClassifierNet`.

    Attributes:
        encoder: encoder name (see :func:`rnnlab.models.make_encoder`).
        input_size: features per step, or the vocabulary size with ``embedding_dim``.
        num_classes: number of classes.
        hidden_size, num_layers: encoder size.
        pooling: ``"last"`` (final state) or ``"mean"`` (mean of outputs over valid steps).
        embedding_dim: when set, inputs are int64 token ids embedded to this size.
        dropout: dropout between stacked layers and before the output layer.
        encoder_options: extra options for the encoder (``layer_norm``, ``kernel_size``, ...).
    """

    encoder: str
    input_size: int
    num_classes: int
    hidden_size: int = 64
    num_layers: int = 1
    pooling: str = "last"
    embedding_dim: int | None = None
    dropout: float = 0.0
    encoder_options: dict[str, Any] = field(default_factory=dict)


class ClassifierNet(TaskModel):
    """Classify each sequence of a batch.

    Batch: ``x`` float (B, T, I) or int64 (B, T) token ids, ``lengths`` (B,) or None, ``y``
    int64 (B,) class indices. Loss: mean cross-entropy. Metrics: ``loss``, ``accuracy``.
    """

    def __init__(self, config: ClassifierNetConfig | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.config = config = resolve_config(ClassifierNetConfig, config, kwargs)
        if config.pooling not in POOLINGS:
            raise UserInputError(f"pooling must be one of {POOLINGS}, got {config.pooling!r}")
        check_num_classes(config.num_classes)
        self.inputs = InputLayer(config.input_size, config.embedding_dim)
        self.encoder = encoder_from_config(config, self.inputs.output_size)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(self.encoder.output_size, config.num_classes)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Class logits (B, num_classes)."""
        encoded = self.encoder(self.inputs(x), lengths)
        if self.config.pooling == "last":
            pooled = encoded.last
        else:
            mask = length_mask(lengths, x.shape[1], x.shape[0], x.device).unsqueeze(-1)
            pooled = (encoded.outputs * mask).sum(1) / mask.sum(1)
        return self.head(self.dropout(pooled))

    def predict(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Class probabilities (B, num_classes), in eval mode without gradients."""
        with self.evaluating():
            return torch.softmax(self(x, lengths), dim=-1)

    def loss(self, batch: Batch) -> Tensor:
        """Mean cross-entropy of the class logits against ``batch.y``."""
        check_labels(batch.y, self.config.num_classes)
        return F.cross_entropy(self(batch.x, batch.lengths), batch.y)

    def _metrics(self, batch: Batch) -> dict[str, float]:
        check_labels(batch.y, self.config.num_classes)
        logits = self(batch.x, batch.lengths)
        return {
            "loss": float(F.cross_entropy(logits, batch.y)),
            "accuracy": float((logits.argmax(-1) == batch.y).float().mean()),
        }


# Old names (one release): renamed so the networks cannot be confused with the estimators.
__getattr__ = deprecated_aliases(
    __name__,
    {"SequenceClassifier": "ClassifierNet", "ClassifierConfig": "ClassifierNetConfig"},
    globals(),
)
