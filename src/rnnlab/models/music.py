"""Polyphonic music model: piano-roll frames -> causal encoder -> per-pitch note probabilities
of the next frame (Boulanger-Lewandowski, Bengio & Vincent 2012; the RNN baseline of their
Table 1 and of Bai et al. 2018).

Each pitch is an independent Bernoulli given the past, so the negative log-likelihood of a
frame is the sum over pitches of the binary cross-entropy; the reported figure is that sum
averaged over all valid frames ("NLL per frame", nats).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.data.containers import Batch
from rnnlab.models.common import InputLayer, TaskModel, length_mask, masked_mean, resolve_config
from rnnlab.models.encoder import causal_encoder_name, encoder_from_config


@dataclass
class MusicConfig:
    """Configuration of :class:`MusicModel`.

    Attributes:
        encoder: a causal encoder name (any cell or ``tcn``; not bidirectional).
        num_pitches: pitches per frame (88 piano keys by default).
        hidden_size, num_layers: encoder size.
        dropout: dropout between stacked layers and before the output layer.
        encoder_options: extra options for the encoder.
    """

    encoder: str
    num_pitches: int = 88
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0
    encoder_options: dict[str, Any] = field(default_factory=dict)


class MusicModel(TaskModel):
    """Per-frame multi-label prediction.

    Batch (as :meth:`rnnlab.data.MusicData.batches` makes it): ``x`` float 0/1 (B, T, P)
    frames, ``y`` float 0/1 (B, T, P) the next frames, ``lengths`` (B,). Loss: NLL per frame.
    Metrics: ``loss``, ``nll_per_frame`` (the same) and ``frame_accuracy`` (Bay et al. 2009:
    TP / (TP + FP + FN) over all valid frames, notes on where p >= 0.5).
    """

    def __init__(self, config: MusicConfig | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.config = config = resolve_config(MusicConfig, config, kwargs)
        self.inputs = InputLayer(config.num_pitches)
        self.encoder = encoder_from_config(
            config, config.num_pitches, causal_encoder_name(config.encoder, config.encoder_options)
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(self.encoder.output_size, config.num_pitches)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Note logits (B, T, num_pitches)."""
        return self.head(self.dropout(self.encoder(self.inputs(x), lengths).outputs))

    def predict(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Note probabilities (B, T, num_pitches) in eval mode without gradients."""
        with self.evaluating():
            return torch.sigmoid(self(x, lengths))

    def _frame_nll(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        logits = self(batch.x, batch.lengths)
        target = batch.y.to(logits.dtype)
        nll = F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(-1)
        mask = length_mask(batch.lengths, logits.shape[1], logits.shape[0], logits.device)
        return logits, nll, mask

    def loss(self, batch: Batch) -> Tensor:
        """Negative log-likelihood per frame: BCE summed over pitches, mean over frames."""
        _, nll, mask = self._frame_nll(batch)
        return masked_mean(nll, mask)

    def _metrics(self, batch: Batch) -> dict[str, float]:
        logits, nll, mask = self._frame_nll(batch)
        frame_nll = float(masked_mean(nll, mask))
        played = (logits >= 0) & mask.unsqueeze(-1)  # sigmoid(logit) >= 0.5
        truth = (batch.y > 0.5) & mask.unsqueeze(-1)
        true_pos = float((played & truth).sum())
        wrong = float((played ^ truth).sum())  # false positives + false negatives
        accuracy = true_pos / (true_pos + wrong) if true_pos + wrong else 1.0
        return {"loss": frame_nll, "nll_per_frame": frame_nll, "frame_accuracy": accuracy}
