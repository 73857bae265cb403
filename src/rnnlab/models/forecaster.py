"""Multi-step forecaster: encoder over a past window, then a direct head or a decoder.

- ``decoder="direct"`` (the multi-output strategy): one linear layer maps the encoder summary
  and the future-known covariates of the whole horizon to all ``horizon`` steps at once.
- ``decoder="seq2seq"``: a recurrent decoder (optionally attending over the encoder outputs,
  Luong or Bahdanau) emits one step at a time; its input at step h is the previous target
  value and the future-known covariates of step h. Training feeds the true previous values
  (teacher forcing) in a share ``teacher_forcing`` of the batches and its own point forecasts
  in the others, as forecasting always does (0: trained free-running, no train/forecast
  mismatch).

With ``linear_window`` > 0 an autoregressive linear component is added to every output (the
"highway" of LSTNet, Lai et al. 2018, and the linear map of DLinear, Zeng et al. 2023): one
linear map from the last ``linear_window`` values of the targets to all horizon steps. The
recurrent part then has only to learn what a linear map of the window gets wrong.

Inputs follow :meth:`rnnlab.data.ForecastData.windows`: ``x`` (B, W, I) holds the targets in
its first ``n_targets`` columns, then past covariates (and future-known ones, at past steps).
Future-known covariates over the horizon come as ``future`` (B, H, F) -- ``batch.future`` in
a batch. With ``quantiles`` the model outputs one forecast per quantile level, trained with the
pinball loss; otherwise a point forecast trained with the squared error.
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
from rnnlab.models.common import InputLayer, TaskModel, length_mask, resolve_config
from rnnlab.models.decoder import Decoder, default_decoder_cell
from rnnlab.models.encoder import encoder_from_config, last_step

DECODERS = ("direct", "seq2seq")


@dataclass
class ForecastNetConfig:
    """Configuration of :class:`ForecastNet`.

    Attributes:
        encoder: encoder name (see :func:`rnnlab.models.make_encoder`).
        input_size: features per past step (targets first).
        horizon: steps to forecast.
        n_targets: target series forecast jointly (the first columns of ``x``).
        future_size: future-known covariates per horizon step (0 for none).
        hidden_size, num_layers: encoder (and decoder) size.
        decoder: ``"direct"`` or ``"seq2seq"``.
        attention: ``"luong"``, ``"bahdanau"`` or None (seq2seq only).
        decoder_cell: decoder cell name (default: the encoder's cell; GRU for a TCN).
        quantiles: increasing quantile levels in (0, 1) for probabilistic output, or None.
        dropout: dropout between stacked layers and before the output layer.
        teacher_forcing: share of training batches a seq2seq decoder gets the true previous
            values in (1: always, the classic setting; 0: never, as when forecasting).
        linear_window: past steps of the targets the autoregressive linear component reads
            (0: none).
        encoder_options: extra options for the encoder.
    """

    encoder: str
    input_size: int
    horizon: int
    n_targets: int = 1
    future_size: int = 0
    hidden_size: int = 64
    num_layers: int = 1
    decoder: str = "direct"
    attention: str | None = "luong"
    decoder_cell: str | None = None
    quantiles: tuple[float, ...] | None = None
    dropout: float = 0.0
    teacher_forcing: float = 1.0
    linear_window: int = 0
    encoder_options: dict[str, Any] = field(default_factory=dict)


def pinball_loss(prediction: Tensor, target: Tensor, quantiles: Tensor) -> Tensor:
    """Mean pinball (quantile) loss: ``max(q (y - y_q), (q - 1) (y - y_q))``.

    ``prediction`` (..., Q), ``target`` (...), ``quantiles`` (Q,).
    """
    error = target.unsqueeze(-1) - prediction
    return torch.maximum(quantiles * error, (quantiles - 1) * error).mean()


class ForecastNet(TaskModel):
    """Forecast ``horizon`` steps of ``n_targets`` series from a window of the past.

    Batch: ``x`` float (B, W, input_size), ``y`` float (B, horizon, n_targets), optional
    ``lengths`` and ``future`` (B, horizon, future_size). Loss: mean squared error, or the mean
    pinball loss over quantile levels. Metrics (on forecasts made without the true targets):
    ``loss``, ``mse`` and ``mae`` of the point forecast (the median level, or the level nearest
    0.5), and with quantiles ``pinball``.
    """

    def __init__(self, config: ForecastNetConfig | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.config = config = resolve_config(ForecastNetConfig, config, kwargs)
        if config.decoder not in DECODERS:
            raise UserInputError(f"decoder must be one of {DECODERS}, got {config.decoder!r}")
        if config.n_targets > config.input_size:
            raise UserInputError(
                f"n_targets ({config.n_targets}) exceeds input_size ({config.input_size}): the "
                "targets must be the first columns of the input"
            )
        self.num_outputs = 1
        if config.quantiles is not None:
            levels = torch.tensor([float(q) for q in config.quantiles])
            if len(levels) == 0 or not (
                bool((levels > 0).all() & (levels < 1).all()) and bool((levels.diff() > 0).all())
            ):
                raise UserInputError(
                    f"quantiles must be strictly increasing levels in (0, 1), got "
                    f"{config.quantiles!r}"
                )
            self.register_buffer("quantile_levels", levels)
            self.num_outputs = len(levels)
            self.point_index = int((levels - 0.5).abs().argmin())
        self.linear: nn.Linear | None = None
        if config.linear_window:
            size = config.n_targets
            self.linear = nn.Linear(config.linear_window * size, config.horizon * size)
        self.inputs = InputLayer(config.input_size)
        self.encoder = encoder_from_config(config, config.input_size)
        self.dropout = nn.Dropout(config.dropout)
        per_step = config.n_targets * self.num_outputs
        self.decoder: Decoder | None = None
        if config.decoder == "direct":
            head_inputs = self.encoder.output_size + config.horizon * config.future_size
            self.head = nn.Linear(head_inputs, config.horizon * per_step)
        else:
            self.decoder = Decoder(
                config.decoder_cell or default_decoder_cell(config.encoder),
                config.n_targets + config.future_size,
                config.hidden_size,
                config.num_layers,
                summary_size=self.encoder.output_size,
                memory_size=self.encoder.output_size,
                attention=config.attention,
                dropout=config.dropout,
            )
            self.head = nn.Linear(config.hidden_size, per_step)

    def forward(
        self,
        x: Tensor,
        future: Tensor | None = None,
        lengths: Tensor | None = None,
        teacher: Tensor | None = None,
    ) -> Tensor:
        """Forecasts (B, horizon, n_targets), or (B, horizon, n_targets, Q) with quantiles.

        ``teacher`` (B, horizon, n_targets): true values fed to a seq2seq decoder (teacher
        forcing); without it the decoder feeds back its own point forecasts.
        """
        cfg = self.config
        future = self._check_future(x, future)
        encoded = self.encoder(self.inputs(x), lengths)
        batch_size = x.shape[0]
        linear = self.linear_forecast(x)
        if self.decoder is None:
            features = [self.dropout(encoded.last)]
            if future is not None:
                features.append(future.reshape(batch_size, -1))
            out = self.head(torch.cat(features, -1))
            return self._with_linear(self._shape(out.view(batch_size, cfg.horizon, -1)), linear)
        mask = length_mask(lengths, x.shape[1], batch_size, x.device)
        state = self.decoder.initial_state(encoded.last)
        previous = last_step(x, lengths)[:, : cfg.n_targets]  # the last observed values

        def step_inputs(values: Tensor, h: slice) -> Tensor:
            return values if future is None else torch.cat([values, future[:, h]], -1)

        if teacher is not None:
            values = torch.cat([previous.unsqueeze(1), teacher[:, :-1]], 1)
            features, _, _ = self.decoder(
                step_inputs(values, slice(None)), state, encoded.outputs, mask
            )
            return self._with_linear(self._shape(self.head(self.dropout(features))), linear)
        outputs = []
        for h in range(cfg.horizon):
            inputs = step_inputs(previous.unsqueeze(1), slice(h, h + 1))
            features, state, _ = self.decoder(inputs, state, encoded.outputs, mask)
            out = self._shape(self.head(self.dropout(features)))
            out = self._with_linear(out, None if linear is None else linear[:, h : h + 1])
            outputs.append(out)
            previous = self.point(out)[:, 0]
        return torch.cat(outputs, 1)

    def linear_forecast(self, x: Tensor) -> Tensor | None:
        """The autoregressive linear component (B, horizon, n_targets), or None. It reads
        the last ``linear_window`` steps of ``x`` as they are: forecasting windows have no
        padding."""
        if self.linear is None:
            return None
        cfg = self.config
        if x.shape[1] < cfg.linear_window:
            raise UserInputError(
                f"the linear component reads {cfg.linear_window} steps; got a window of "
                f"{x.shape[1]}"
            )
        past = x[:, -cfg.linear_window :, : cfg.n_targets].reshape(x.shape[0], -1)
        return self.linear(past).view(x.shape[0], cfg.horizon, cfg.n_targets)

    def _with_linear(self, out: Tensor, linear: Tensor | None) -> Tensor:
        """``out`` plus the linear component, on every quantile level."""
        if linear is None:
            return out
        return out + (linear.unsqueeze(-1) if self.num_outputs > 1 else linear)

    def _shape(self, out: Tensor) -> Tensor:
        """(B, U, n_targets * Q) -> (B, U, n_targets) or (B, U, n_targets, Q)."""
        if self.num_outputs == 1:
            return out
        return out.view(*out.shape[:2], self.config.n_targets, self.num_outputs)

    def point(self, forecast: Tensor) -> Tensor:
        """The point forecast of a model output: itself, or the level nearest the median."""
        return forecast if self.num_outputs == 1 else forecast[..., self.point_index]

    def _check_future(self, x: Tensor, future: Tensor | None) -> Tensor | None:
        cfg = self.config
        if cfg.future_size == 0:
            if future is not None:
                raise UserInputError(
                    "got future covariates but the model was built with future_size=0"
                )
            return None
        expected = (x.shape[0], cfg.horizon, cfg.future_size)
        if future is None or tuple(future.shape) != expected:
            given = None if future is None else tuple(future.shape)
            raise UserInputError(f"future covariates must have shape {expected}, got {given}")
        return future.to(x.dtype)

    def predict(
        self,
        x: Tensor,
        future: Tensor | None = None,
        lengths: Tensor | None = None,
        sort_quantiles: bool = True,
    ) -> Tensor:
        """Forecasts in eval mode without gradients.

        With quantiles, ``sort_quantiles`` sorts each step's levels into increasing order
        (the rearrangement of Chernozhukov et al. 2010), which removes quantile crossing and
        never increases the pinball loss.
        """
        with self.evaluating():
            forecast = self(x, future, lengths)
        if self.num_outputs > 1 and sort_quantiles:
            forecast = forecast.sort(dim=-1).values
        return forecast

    def _objective(self, forecast: Tensor, y: Tensor) -> Tensor:
        y = y.to(forecast.dtype)
        if self.num_outputs == 1:
            return F.mse_loss(forecast, y)
        return pinball_loss(forecast, y, self.quantile_levels.to(forecast.dtype))

    def _check_targets(self, batch: Batch) -> None:
        expected = (batch.x.shape[0], self.config.horizon, self.config.n_targets)
        if tuple(batch.y.shape) != expected:
            raise UserInputError(
                f"targets y must have shape (B, horizon, n_targets) = {expected}, "
                f"got {tuple(batch.y.shape)}"
            )

    def loss(self, batch: Batch) -> Tensor:
        """Squared error (or pinball loss) of the forecasts against ``batch.y`` (seq2seq:
        teacher-forced in a share ``teacher_forcing`` of the calls)."""
        self._check_targets(batch)
        future = getattr(batch, "future", None)
        forced = self.config.teacher_forcing >= 1 or bool(
            torch.rand(()) < self.config.teacher_forcing
        )
        teacher = batch.y if self.decoder is not None and forced else None
        return self._objective(self(batch.x, future, batch.lengths, teacher), batch.y)

    def _metrics(self, batch: Batch) -> dict[str, float]:
        self._check_targets(batch)
        forecast = self.predict(batch.x, getattr(batch, "future", None), batch.lengths)
        error = self.point(forecast) - batch.y.to(forecast.dtype)
        metrics = {
            "loss": float(self._objective(forecast, batch.y)),
            "mse": float(error.pow(2).mean()),
            "mae": float(error.abs().mean()),
        }
        if self.num_outputs > 1:
            metrics["pinball"] = metrics["loss"]
        return metrics


# Old names (one release): renamed so the networks cannot be confused with the estimators.
__getattr__ = deprecated_aliases(
    __name__, {"Forecaster": "ForecastNet", "ForecasterConfig": "ForecastNetConfig"}, globals()
)
