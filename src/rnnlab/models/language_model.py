"""Character (or token) language model: embedding -> causal encoder -> next-token logits.

Truncated backpropagation through time: with ``carry_state`` the final state of one batch,
detached from the graph, is the initial state of the next, so the model sees context beyond
one chunk while gradients flow through one chunk only. That needs batches laid out so that row
``i`` of batch ``k + 1`` continues row ``i`` of batch ``k``; call :meth:`reset_state` at the
start of every pass over the data. Training and evaluation carry separate states.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.data.containers import Batch
from rnnlab.errors import UserInputError
from rnnlab.models.common import InputLayer, TaskModel, length_mask, masked_mean, resolve_config
from rnnlab.models.encoder import State, causal_encoder_name, encoder_from_config


@dataclass
class LanguageModelConfig:
    """Configuration of :class:`CharLanguageModel`.

    Attributes:
        encoder: a causal encoder name (any cell or ``tcn``; not bidirectional).
        vocab_size: number of token ids.
        embedding_dim: size of the token embedding.
        hidden_size, num_layers: encoder size.
        dropout: dropout between stacked layers and before the output layer.
        carry_state: carry the detached final state into the next batch (truncated BPTT).
        encoder_options: extra options for the encoder.
    """

    encoder: str
    vocab_size: int
    embedding_dim: int = 32
    hidden_size: int = 128
    num_layers: int = 1
    dropout: float = 0.0
    carry_state: bool = True
    encoder_options: dict[str, Any] = field(default_factory=dict)


class CharLanguageModel(TaskModel):
    """Predict the next token at every step.

    Batch: ``x`` int64 (B, T) ids, ``y`` int64 (B, T) next ids, optional ``lengths``. Loss:
    cross-entropy in nats per token. Metrics: ``loss``, ``bits_per_char`` (= loss / ln 2) and
    ``perplexity``.
    """

    def __init__(self, config: LanguageModelConfig | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.config = config = resolve_config(LanguageModelConfig, config, kwargs)
        self.inputs = InputLayer(config.vocab_size, config.embedding_dim)
        self.encoder = encoder_from_config(
            config,
            config.embedding_dim,
            causal_encoder_name(config.encoder, config.encoder_options),
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(self.encoder.output_size, config.vocab_size)
        self._carried: dict[bool, State] = {True: None, False: None}

    def forward(
        self, x: Tensor, hx: State = None, lengths: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """Next-token logits (B, T, vocab_size) and the final state (None for a TCN)."""
        encoded = self.encoder(self.inputs(x), lengths, hx)
        return self.head(self.dropout(encoded.outputs)), encoded.state

    def reset_state(self) -> None:
        """Forget the carried state (start of an epoch, of an evaluation, of a new text)."""
        self._carried = {True: None, False: None}

    def _carry_in(self, batch_size: int) -> State:
        state = self._carried[self.training]
        if not self.config.carry_state or state is None:
            return None
        h = state[0] if isinstance(state, tuple) else state
        return state if h.shape[1] == batch_size else None  # a short last batch starts afresh

    def _token_losses(self, batch: Batch) -> tuple[Tensor, Tensor]:
        logits, state = self(batch.x, self._carry_in(batch.x.shape[0]), batch.lengths)
        if self.config.carry_state and state is not None:
            detached = (
                tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
            )
            self._carried[self.training] = detached
        losses = F.cross_entropy(logits.transpose(1, 2), batch.y, reduction="none")
        mask = length_mask(batch.lengths, batch.x.shape[1], batch.x.shape[0], batch.x.device)
        return losses, mask

    def loss(self, batch: Batch) -> Tensor:
        """Mean cross-entropy (nats per token) over valid steps, carrying state if enabled."""
        return masked_mean(*self._token_losses(batch))

    def _metrics(self, batch: Batch) -> dict[str, float]:
        nats = float(masked_mean(*self._token_losses(batch)))
        return {"loss": nats, "bits_per_char": nats / math.log(2), "perplexity": math.exp(nats)}

    def sample(
        self,
        prefix: Tensor | list[int],
        n: int,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Generate ``n`` token ids after ``prefix`` (1-D ids, at least one).

        Each token is drawn from ``softmax(logits / temperature)`` with ``generator`` (the
        same seeded generator gives the same text); ``temperature=0`` takes the most likely
        token. Returns int64 (n,). The carried training/evaluation states are left untouched.
        """
        prefix = torch.as_tensor(prefix, dtype=torch.int64).reshape(-1)
        if len(prefix) == 0:
            raise UserInputError("sample needs a prefix of at least one token id")
        if temperature < 0:
            raise UserInputError(f"temperature must be >= 0, got {temperature}")
        device = self.head.weight.device
        context = prefix.to(device).unsqueeze(0)
        window = None if self.encoder.recurrent else self.encoder.layer.receptive_field
        generated = []
        with self.evaluating():
            logits, state = self(context)
            for _ in range(n):
                last = logits[0, -1]
                if temperature == 0:
                    token = last.argmax().view(1)
                else:
                    probabilities = torch.softmax(last / temperature, dim=-1)
                    token = torch.multinomial(probabilities.cpu(), 1, generator=generator)
                token = token.to(device)
                generated.append(token)
                if self.encoder.recurrent:  # feed one token, carrying the state
                    logits, state = self(token.view(1, 1), state)
                else:  # no state: rerun the receptive field
                    context = torch.cat([context, token.view(1, 1)], 1)[:, -window:]
                    logits, _ = self(context)
        return torch.cat(generated).cpu() if generated else torch.empty(0, dtype=torch.int64)
