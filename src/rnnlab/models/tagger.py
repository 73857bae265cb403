"""Many-to-many per-step classification (copy memory, Bai et al. 2018): a class per input
step from the encoder output at that step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.data.containers import Batch
from rnnlab.models.common import (
    InputLayer,
    TaskModel,
    check_labels,
    check_num_classes,
    length_mask,
    masked_mean,
    resolve_config,
)
from rnnlab.models.encoder import encoder_from_config


@dataclass
class TaggerConfig:
    """Configuration of :class:`SequenceTagger`.

    Attributes:
        encoder: encoder name (see :func:`rnnlab.models.make_encoder`).
        input_size: features per step, or the vocabulary size with ``embedding_dim``.
        num_classes: classes per step.
        hidden_size, num_layers: encoder size.
        recall_steps: the last steps of each sequence scored by ``recall_accuracy`` (copy
            memory recalls the last 10); 0 leaves that metric out.
        embedding_dim: when set, inputs are int64 token ids embedded to this size.
        dropout: dropout between stacked layers and before the output layer.
        encoder_options: extra options for the encoder.
    """

    encoder: str
    input_size: int
    num_classes: int
    hidden_size: int = 64
    num_layers: int = 1
    recall_steps: int = 10
    embedding_dim: int | None = None
    dropout: float = 0.0
    encoder_options: dict[str, Any] = field(default_factory=dict)


class SequenceTagger(TaskModel):
    """Predict a class at every step.

    Batch: ``x`` float (B, T, I) or int64 (B, T), ``lengths`` or None, ``y`` int64 (B, T).
    Loss: cross-entropy averaged over all valid steps. Metrics: ``loss``, ``cross_entropy``
    (the same), ``accuracy`` (all valid steps) and ``recall_accuracy`` (the last
    ``recall_steps`` valid steps of each sequence).
    """

    def __init__(self, config: TaggerConfig | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.config = config = resolve_config(TaggerConfig, config, kwargs)
        check_num_classes(config.num_classes)
        self.inputs = InputLayer(config.input_size, config.embedding_dim)
        self.encoder = encoder_from_config(config, self.inputs.output_size)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(self.encoder.output_size, config.num_classes)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Per-step class logits (B, T, num_classes)."""
        return self.head(self.dropout(self.encoder(self.inputs(x), lengths).outputs))

    def predict(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Most likely class per step, int64 (B, T)."""
        with self.evaluating():
            return self(x, lengths).argmax(-1)

    def _step_losses(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        logits = self(batch.x, batch.lengths)
        mask = length_mask(batch.lengths, logits.shape[1], logits.shape[0], logits.device)
        check_labels(batch.y[mask], self.config.num_classes)  # padded steps may hold anything
        losses = F.cross_entropy(logits.transpose(1, 2), batch.y, reduction="none")
        return logits, losses, mask

    def loss(self, batch: Batch) -> Tensor:
        """Cross-entropy averaged over the valid steps of the batch."""
        _, losses, mask = self._step_losses(batch)
        return masked_mean(losses, mask)

    def _metrics(self, batch: Batch) -> dict[str, float]:
        logits, losses, mask = self._step_losses(batch)
        correct = (logits.argmax(-1) == batch.y).float()
        ce = float(masked_mean(losses, mask))
        metrics = {"loss": ce, "cross_entropy": ce, "accuracy": float(masked_mean(correct, mask))}
        if self.config.recall_steps > 0:
            steps = mask.sum(1, keepdim=True)  # valid length of each sequence
            position = mask.cumsum(1)
            recall = mask & (position > steps - self.config.recall_steps)
            metrics["recall_accuracy"] = float(masked_mean(correct, recall))
        return metrics
