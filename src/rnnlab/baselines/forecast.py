"""Univariate forecasting baselines with one interface: ``fit(history) -> self``, ``predict(h)``.

Each works on one series (a 1-D float array ordered in time) and returns ``h`` point
forecasts for the steps right after the history.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np

from rnnlab.errors import UserInputError


def _as_history(history: np.ndarray) -> np.ndarray:
    values = np.asarray(history, dtype=np.float64).reshape(-1)
    if values.size == 0:
        raise UserInputError("a baseline needs at least one observation; got an empty series")
    if not np.isfinite(values).all():
        raise UserInputError("a baseline got NaN or Inf in its history; fill or drop them first")
    return values


def _check_horizon(horizon: int) -> int:
    if int(horizon) <= 0:
        raise UserInputError(f"horizon must be a positive integer; got {horizon}")
    return int(horizon)


class Naive:
    """Repeat the last observed value: ``ŷ_{T+k} = y_T`` for every step ``k``."""

    name = "naive"

    def fit(self, history: np.ndarray) -> Naive:
        """Remember the last value of ``history``."""
        self.last_ = float(_as_history(history)[-1])
        return self

    def predict(self, horizon: int) -> np.ndarray:
        """Forecast ``horizon`` steps ahead."""
        return np.full(_check_horizon(horizon), self.last_)


class SeasonalNaive:
    """Repeat the last full season: ``ŷ_{T+k} = y_{T+k-m·⌈k/m⌉}`` for season length ``m``.

    With a history shorter than one season it falls back to :class:`Naive` (``m = 1``).
    """

    name = "seasonal-naive"

    def __init__(self, season_length: int) -> None:
        if int(season_length) <= 0:
            raise UserInputError(f"season_length must be a positive integer; got {season_length}")
        self.season_length = int(season_length)

    def fit(self, history: np.ndarray) -> SeasonalNaive:
        """Remember the last season of ``history``."""
        values = _as_history(history)
        m = self.season_length if values.size >= self.season_length else 1
        self.last_season_ = values[-m:].copy()
        return self

    def predict(self, horizon: int) -> np.ndarray:
        """Forecast ``horizon`` steps ahead by tiling the last season."""
        horizon = _check_horizon(horizon)
        reps = -(-horizon // self.last_season_.size)
        return np.tile(self.last_season_, reps)[:horizon]


class AutoARIMA:
    """ARIMA(p, d, q) with a constant or drift, order picked by the lowest AIC.

    As in Hyndman & Khandakar (2008), the differencing order ``d ≤ max_d`` is chosen first
    by repeated KPSS tests (difference while stationarity is rejected at 5 %), because AICs
    of different ``d`` are not comparable; then ``p ∈ 0..max_p``, ``q ∈ 0..max_q`` are
    searched exhaustively (9 fits at the defaults). Only the last ``max_history``
    observations are used so long series stay cheap, and BLAS runs single-threaded during
    the fits: the matrices are tiny, and multi-threaded BLAS made each fit over ten times
    slower on a busy 2-core machine.
    Orders whose fit fails are skipped; if none fits, it falls back to the naive forecast
    and says so in ``order_`` (``None``).
    """

    name = "arima"

    def __init__(
        self, max_p: int = 2, max_d: int = 1, max_q: int = 2, max_history: int = 500
    ) -> None:
        self.max_p = max_p
        self.max_d = max_d
        self.max_q = max_q
        self.max_history = max_history

    def fit(self, history: np.ndarray) -> AutoARIMA:
        """Fit every order of the grid and keep the one with the lowest AIC."""
        from statsmodels.tsa.arima.model import ARIMA
        from threadpoolctl import threadpool_limits

        values = _as_history(history)[-self.max_history :]
        self.order_: tuple[int, int, int] | None = None
        self.aic_ = np.inf
        self.result_ = None
        self.fallback_ = Naive().fit(values)
        d = self._differencing(values)
        trend = "c" if d == 0 else "t" if d == 1 else "n"
        for p, q in itertools.product(range(self.max_p + 1), range(self.max_q + 1)):
            if values.size < p + q + d + 3:
                continue
            try:
                with warnings.catch_warnings(), threadpool_limits(1):
                    warnings.simplefilter("ignore")
                    result = ARIMA(values, order=(p, d, q), trend=trend).fit()
            except (ValueError, np.linalg.LinAlgError):
                continue
            if np.isfinite(result.aic) and result.aic < self.aic_:
                self.order_, self.aic_, self.result_ = (p, d, q), float(result.aic), result
        return self

    def _differencing(self, values: np.ndarray) -> int:
        """Smallest ``d ≤ max_d`` whose differenced series passes the KPSS test."""
        from statsmodels.tsa.stattools import kpss

        d, series = 0, values
        while d < self.max_d and series.size > 10 and np.ptp(series) > 0:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # p-values outside the table are clipped
                p_value = kpss(series, regression="c", nlags="auto")[1]
            if p_value >= 0.05:
                break
            d, series = d + 1, np.diff(series)
        return d

    def predict(self, horizon: int) -> np.ndarray:
        """Forecast ``horizon`` steps ahead with the chosen model (naive if none fitted)."""
        horizon = _check_horizon(horizon)
        if self.result_ is None:
            return self.fallback_.predict(horizon)
        forecast = np.asarray(self.result_.forecast(horizon), dtype=np.float64)
        if not np.isfinite(forecast).all():
            return self.fallback_.predict(horizon)
        return forecast


BASELINES = ("naive", "seasonal-naive", "arima")


def make_baseline(name: str, season_length: int = 1) -> Naive | SeasonalNaive | AutoARIMA:
    """Build a forecasting baseline by name: one of ``naive``, ``seasonal-naive``, ``arima``."""
    if name == "naive":
        return Naive()
    if name == "seasonal-naive":
        return SeasonalNaive(season_length)
    if name == "arima":
        return AutoARIMA()
    raise UserInputError(f"unknown baseline {name!r}; expected one of {', '.join(BASELINES)}")
