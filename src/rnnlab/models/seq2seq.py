"""Sequence-to-sequence model with attention (Bahdanau et al. 2015; Luong et al. 2015) for
token tasks such as reversal and digit addition.

Source ids -> embedding -> encoder; target ids -> embedding -> attention decoder -> logits.
Training uses teacher forcing: the decoder reads ``<s>`` then the true target shifted by one.
Generation is greedy: each step feeds back the most likely token, until ``</s>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.data.containers import Batch
from rnnlab.models.common import (
    InputLayer,
    TaskModel,
    length_mask,
    masked_mean,
    resolve_config,
)
from rnnlab.models.decoder import Decoder, default_decoder_cell
from rnnlab.models.encoder import EncoderOutput, State, encoder_from_config

PAD_ID = 0


@dataclass
class Seq2SeqConfig:
    """Configuration of :class:`Seq2Seq`.

    Attributes:
        encoder: encoder name (see :func:`rnnlab.models.make_encoder`); ``bilstm`` etc. work.
        vocab_size: source vocabulary size (id 0 is padding).
        target_vocab_size: target vocabulary size (default: ``vocab_size``).
        embedding_dim: token embedding size (source and target have their own embeddings).
        hidden_size, num_layers: encoder and decoder size.
        attention: ``"luong"``, ``"bahdanau"`` or None.
        decoder_cell: decoder cell name (default: the encoder's cell; GRU for a TCN).
        bos_id, eos_id: ids of ``<s>`` and ``</s>`` in the target vocabulary.
        dropout: dropout between stacked layers and before the output layer.
        encoder_options: extra options for the encoder.
    """

    encoder: str
    vocab_size: int
    target_vocab_size: int | None = None
    embedding_dim: int = 32
    hidden_size: int = 64
    num_layers: int = 1
    attention: str | None = "luong"
    decoder_cell: str | None = None
    bos_id: int = 1
    eos_id: int = 2
    dropout: float = 0.0
    encoder_options: dict[str, Any] = field(default_factory=dict)


class Seq2Seq(TaskModel):
    """Encoder-decoder over token ids.

    Batch: ``x`` int64 (B, S) source ids padded with 0, ``lengths`` (B,), ``y`` int64 (B, U)
    target ids ending with ``</s>`` and padded with 0, ``target_lengths`` (B,) or None (then
    non-zero ids are the valid targets). Loss: teacher-forced cross-entropy per target token.
    Metrics: ``loss``, ``cross_entropy`` (the same), and on greedy decoding
    ``token_accuracy`` (valid target positions right) and ``sequence_accuracy`` (whole
    target, ``</s>`` included, right).
    """

    def __init__(self, config: Seq2SeqConfig | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.config = config = resolve_config(Seq2SeqConfig, config, kwargs)
        target_vocab = config.target_vocab_size or config.vocab_size
        self.source = InputLayer(config.vocab_size, config.embedding_dim)
        self.target = InputLayer(target_vocab, config.embedding_dim)
        self.encoder = encoder_from_config(config, config.embedding_dim)
        self.decoder = Decoder(
            config.decoder_cell or default_decoder_cell(config.encoder),
            config.embedding_dim,
            config.hidden_size,
            config.num_layers,
            summary_size=self.encoder.output_size,
            memory_size=self.encoder.output_size,
            attention=config.attention,
            dropout=config.dropout,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size, target_vocab)

    def encode(self, x: Tensor, lengths: Tensor | None) -> tuple[EncoderOutput, Tensor]:
        """Encoder output and the source mask (B, S)."""
        encoded = self.encoder(self.source(x), lengths)
        return encoded, length_mask(lengths, x.shape[1], x.shape[0], x.device)

    def _decode(
        self, tokens: Tensor, state: State, encoded: EncoderOutput, mask: Tensor
    ) -> tuple[Tensor, State, Tensor | None]:
        features, state, weights = self.decoder(self.target(tokens), state, encoded.outputs, mask)
        return self.head(self.dropout(features)), state, weights

    def forward(self, x: Tensor, lengths: Tensor | None, y: Tensor) -> Tensor:
        """Teacher-forced logits (B, U, target_vocab) for targets ``y`` (B, U)."""
        encoded, mask = self.encode(x, lengths)
        bos = torch.full_like(y[:, :1], self.config.bos_id)
        decoder_input = torch.cat([bos, y[:, :-1]], 1)
        logits, _, _ = self._decode(
            decoder_input, self.decoder.initial_state(encoded.last), encoded, mask
        )
        return logits

    def generate(
        self, x: Tensor, lengths: Tensor | None = None, max_length: int = 100
    ) -> tuple[Tensor, Tensor | None]:
        """Greedy decoding, in eval mode without gradients.

        Returns int64 ids (B, L) with L <= ``max_length`` (``</s>`` included, 0 after it), and
        the attention weights (B, L, S) (None without attention).
        """
        with self.evaluating():
            encoded, mask = self.encode(x, lengths)
            state = self.decoder.initial_state(encoded.last)
            token = torch.full((x.shape[0], 1), self.config.bos_id, device=x.device)
            finished = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
            tokens, weights = [], []
            for _ in range(max_length):
                logits, state, w = self._decode(token, state, encoded, mask)
                token = logits.argmax(-1).masked_fill(finished.unsqueeze(1), PAD_ID)
                tokens.append(token)
                weights.append(w)
                finished |= token[:, 0] == self.config.eos_id
                if bool(finished.all()):
                    break
        attention = None if weights[0] is None else torch.cat(weights, 1)
        return torch.cat(tokens, 1), attention

    def predict(self, x: Tensor, lengths: Tensor | None = None, max_length: int = 100) -> Tensor:
        """Greedy output ids (B, L); see :meth:`generate`."""
        return self.generate(x, lengths, max_length)[0]

    def _target_mask(self, batch: Batch) -> Tensor:
        if batch.target_lengths is None:
            return batch.y != PAD_ID
        return length_mask(batch.target_lengths, batch.y.shape[1], len(batch), batch.y.device)

    def loss(self, batch: Batch) -> Tensor:
        """Teacher-forced cross-entropy per valid target token."""
        logits = self(batch.x, batch.lengths, batch.y)
        losses = F.cross_entropy(logits.transpose(1, 2), batch.y, reduction="none")
        return masked_mean(losses, self._target_mask(batch))

    def _metrics(self, batch: Batch) -> dict[str, float]:
        ce = float(self.loss(batch))
        predicted, _ = self.generate(batch.x, batch.lengths, max_length=batch.y.shape[1])
        predicted = F.pad(predicted, (0, batch.y.shape[1] - predicted.shape[1]), value=PAD_ID)
        valid = self._target_mask(batch)
        correct = (predicted == batch.y) & valid
        return {
            "loss": ce,
            "cross_entropy": ce,
            "token_accuracy": float(correct.sum() / valid.sum().clamp(min=1)),
            "sequence_accuracy": float((correct | ~valid).all(1).float().mean()),
        }
