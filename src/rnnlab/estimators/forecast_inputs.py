"""What the forecasting network sees: each window on its own scale, and a seasonal baseline.

Two ideas keep a recurrent forecaster honest on real series:

- **Per-window scaling** (RevIN, Kim et al. 2022; NeuralForecast's temporal scalers): every
  input window's targets are shifted and scaled by that window's own mean and standard
  deviation, the network's output is mapped back with the same numbers. A series that
  trends out of its training range (a stock index that doubles) then looks to the network
  like the windows it was trained on, instead of being pulled back to the training level.
- **Residual on the seasonal naive forecast** (in the spirit of ES-RNN, Smyl 2020): the
  network outputs a correction to the seasonal naive forecast of the window (season
  ``season``; 1 is naive), which is also given to it as a future-known input per horizon
  step. At initialisation the output is near zero, so training starts from the baseline.
- **Seasonal lags as inputs**: the naive forecasts of the other seasons the window holds
  (``lags``; 1 is the last value) are given per horizon step too, so the network can learn
  when the day before is a better guide than the week before (a holiday, a level shift)
  from the values themselves instead of remembering them across the window.

Windows arrive already standardised per series (:class:`~rnnlab.data.ForecastScaler`); the
transform works on those units, and :meth:`WindowTransform.decode` returns them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from rnnlab.data.containers import ForecastWindows
from rnnlab.errors import UserInputError

SCALINGS = ("window", "global")
# Smallest window scale (in per-series standard units): a flat window is not blown up.
_MIN_SCALE = 1e-2


@dataclass(frozen=True)
class Encoded:
    """A batch of windows as the network sees them, with what is needed to map back."""

    x: Tensor
    future: Tensor | None
    loc: Tensor  # (B, 1, n_targets)
    scale: Tensor  # (B, 1, n_targets)
    base: Tensor | None  # (B, H, n_targets): the seasonal naive forecast, scaled


@dataclass(frozen=True)
class WindowTransform:
    """Per-window scaling (``scaling="window"``, or ``"global"``: none beyond the
    per-series scaler), the seasonal-naive residual (``season`` ≥ 1; 0: none) and the
    seasonal naive forecasts of ``lags`` as future inputs.

    The targets are the first ``n_targets`` columns of ``x``.
    """

    n_targets: int
    horizon: int
    scaling: str = "window"
    season: int = 0
    lags: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.scaling not in SCALINGS:
            raise UserInputError(f"scaling must be one of {SCALINGS}; got {self.scaling!r}")

    @property
    def extra_future(self) -> int:
        """Future inputs the transform adds per horizon step (the baseline and the lags,
        per target)."""
        return self.n_targets * (bool(self.season) + len(self.lags))

    def encode(self, x: Tensor, future: Tensor | None) -> Encoded:
        """Scale the targets of ``x`` (B, W, I) and append the baseline to ``future``."""
        k = self.n_targets
        targets = x[..., :k]
        if self.scaling == "window":
            loc = targets.mean(dim=1, keepdim=True)
            scale = targets.std(dim=1, keepdim=True, unbiased=False).clamp_min(_MIN_SCALE)
        else:
            loc = torch.zeros_like(targets[:, :1])
            scale = torch.ones_like(targets[:, :1])
        x = torch.cat([(targets - loc) / scale, x[..., k:]], dim=-1)
        base = self._seasonal_naive(x, self.season) if self.season else None
        for forecast in [base] + [self._seasonal_naive(x, m) for m in self.lags]:
            if forecast is not None:
                future = forecast if future is None else torch.cat([future, forecast], dim=-1)
        return Encoded(x, future, loc, scale, base)

    def _seasonal_naive(self, x: Tensor, season: int) -> Tensor:
        """The seasonal naive forecast (B, H, n_targets) of the scaled targets of ``x``."""
        if season > x.shape[1]:
            raise UserInputError(
                f"the seasonal naive input of season {season} needs a window of at least "
                f"{season} steps; got {x.shape[1]}"
            )
        steps = torch.arange(self.horizon) % season
        return x[:, x.shape[1] - season + steps, : self.n_targets]

    def targets(self, y: Tensor, encoded: Encoded) -> Tensor:
        """Training targets: ``y`` (B, H, n_targets) on the window's scale, minus the baseline."""
        y = (y - encoded.loc) / encoded.scale
        return y if encoded.base is None else y - encoded.base

    def decode(self, out: Tensor, encoded: Encoded) -> Tensor:
        """Network output (B, H, n_targets[, Q]) back to per-series standard units."""
        quantiles = out.dim() == 4
        expand = (lambda t: t.unsqueeze(-1)) if quantiles else (lambda t: t)
        if encoded.base is not None:
            out = out + expand(encoded.base)
        return out * expand(encoded.scale) + expand(encoded.loc)

    def windows(self, windows: ForecastWindows) -> ForecastWindows:
        """A whole window set as the network trains on it (targets transformed too)."""
        encoded = self.encode(windows.x, windows.future)
        return ForecastWindows(
            x=encoded.x,
            y=self.targets(windows.y, encoded),
            future=encoded.future,
            series=windows.series,
            start=windows.start,
        )
