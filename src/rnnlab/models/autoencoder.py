"""Sequence autoencoder (Srivastava et al. 2015; Dai & Le 2015): encoder -> fixed-size code ->
decoder that reconstructs the input sequence.

The decoder is unconditioned (its input at every step is the code itself, never the true
previous frame), so everything it reconstructs must pass through the code: the code is a
useful fixed-length embedding of a variable-length sequence (for clustering, HMMs, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from rnnlab.data.containers import Batch
from rnnlab.models.common import (
    InputLayer,
    TaskModel,
    check_lengths,
    length_mask,
    masked_mean,
    resolve_config,
)
from rnnlab.models.decoder import Decoder, default_decoder_cell
from rnnlab.models.encoder import encoder_from_config


@dataclass
class AutoencoderConfig:
    """Configuration of :class:`SequenceAutoencoder`.

    Attributes:
        encoder: encoder name (see :func:`rnnlab.models.make_encoder`).
        input_size: features per step.
        hidden_size, num_layers: encoder and decoder size.
        embedding_size: size of the code (the embedding).
        decoder_cell: decoder cell name (default: the encoder's cell; GRU for a TCN).
        dropout: dropout between stacked layers.
        encoder_options: extra options for the encoder.
    """

    encoder: str
    input_size: int
    hidden_size: int = 64
    num_layers: int = 1
    embedding_size: int = 16
    decoder_cell: str | None = None
    dropout: float = 0.0
    encoder_options: dict[str, Any] = field(default_factory=dict)


class SequenceAutoencoder(TaskModel):
    """Reconstruct float sequences through a fixed-size code.

    Batch: ``x`` float (B, T, I), ``lengths`` or None; ``y`` is ignored (the target is ``x``).
    Loss: mean squared reconstruction error over valid steps and features. Metrics: ``loss``,
    ``mse`` (the same).
    """

    def __init__(self, config: AutoencoderConfig | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.config = config = resolve_config(AutoencoderConfig, config, kwargs)
        self.inputs = InputLayer(config.input_size)
        self.encoder = encoder_from_config(config, config.input_size)
        self.to_code = nn.Linear(self.encoder.output_size, config.embedding_size)
        self.decoder = Decoder(
            config.decoder_cell or default_decoder_cell(config.encoder),
            config.embedding_size,
            config.hidden_size,
            config.num_layers,
            summary_size=config.embedding_size,
            dropout=config.dropout,
        )
        self.reconstruct = nn.Linear(config.hidden_size, config.input_size)

    def encode(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Codes (B, embedding_size), with gradients."""
        return self.to_code(self.encoder(self.inputs(x), lengths).last)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Reconstruction (B, T, input_size); steps past each length are meaningless."""
        code = self.encode(x, lengths)
        steps = code.unsqueeze(1).expand(-1, x.shape[1], -1)
        features, _, _ = self.decoder(steps, self.decoder.initial_state(code))
        return self.reconstruct(features)

    def embed(self, x: Tensor, lengths: Tensor | None = None, batch_size: int = 256) -> Tensor:
        """Embeddings (N, embedding_size) of N sequences, in eval mode without gradients.

        Computed ``batch_size`` sequences at a time, each chunk trimmed to its longest length.
        """
        check_lengths(lengths, x.shape[0], x.shape[1])
        codes = []
        with self.evaluating():
            for start in range(0, x.shape[0], batch_size):
                chunk = slice(start, start + batch_size)
                part_lengths = None if lengths is None else lengths[chunk]
                steps = x.shape[1] if part_lengths is None else int(part_lengths.max())
                codes.append(self.encode(x[chunk, :steps], part_lengths))
        return torch.cat(codes) if codes else x.new_zeros(0, self.config.embedding_size)

    def predict(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Reconstruction (B, T, input_size) in eval mode without gradients."""
        with self.evaluating():
            return self(x, lengths)

    def loss(self, batch: Batch) -> Tensor:
        """Mean squared reconstruction error over valid steps and features."""
        error = (self(batch.x, batch.lengths) - batch.x).pow(2).mean(-1)
        mask = length_mask(batch.lengths, batch.x.shape[1], len(batch), batch.x.device)
        return masked_mean(error, mask)

    def _metrics(self, batch: Batch) -> dict[str, float]:
        mse = float(self.loss(batch))
        return {"loss": mse, "mse": mse}
