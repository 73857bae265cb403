"""Many-to-one regression from the encoder's summary (the adding problem, Hochreiter &
Schmidhuber 1997): encoder -> last state -> linear layer -> value(s)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.data.containers import Batch
from rnnlab.models.common import InputLayer, TaskModel, resolve_config
from rnnlab.models.encoder import encoder_from_config


@dataclass
class RegressorConfig:
    """Configuration of :class:`SequenceRegressor`.

    Attributes:
        encoder: encoder name (see :func:`rnnlab.models.make_encoder`).
        input_size: features per step.
        output_size: values predicted per sequence.
        hidden_size, num_layers: encoder size.
        dropout: dropout between stacked layers and before the output layer.
        encoder_options: extra options for the encoder.
    """

    encoder: str
    input_size: int
    output_size: int = 1
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0
    encoder_options: dict[str, Any] = field(default_factory=dict)


class SequenceRegressor(TaskModel):
    """Predict real value(s) from a whole sequence.

    Batch: ``x`` float (B, T, I), ``lengths`` or None, ``y`` float (B,) (``output_size`` 1)
    or (B, output_size). Loss: mean squared error. Metrics: ``loss``, ``mse``.
    """

    def __init__(self, config: RegressorConfig | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.config = config = resolve_config(RegressorConfig, config, kwargs)
        self.inputs = InputLayer(config.input_size)
        self.encoder = encoder_from_config(config, config.input_size)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(self.encoder.output_size, config.output_size)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Predictions (B, output_size)."""
        return self.head(self.dropout(self.encoder(self.inputs(x), lengths).last))

    def predict(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Predictions (B, output_size) in eval mode without gradients."""
        with self.evaluating():
            return self(x, lengths)

    def loss(self, batch: Batch) -> Tensor:
        """Mean squared error against ``batch.y``."""
        prediction = self(batch.x, batch.lengths)
        return F.mse_loss(prediction.reshape(batch.y.shape), batch.y.to(prediction.dtype))

    def _metrics(self, batch: Batch) -> dict[str, float]:
        mse = float(self.loss(batch))
        return {"loss": mse, "mse": mse}
