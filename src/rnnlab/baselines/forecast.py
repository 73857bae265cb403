"""Univariate forecasting baselines with one interface: ``fit(history) -> self``, ``predict(h)``.

Each works on one series (a 1-D float array ordered in time) and returns ``h`` point
forecasts for the steps right after the history.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from typing import Any, Self

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


class _FittedOrNaive:
    """Forecasting from a fitted statsmodels result (``result_``), naive (``naive_``) when
    there is none or its forecast is not finite; ``fallback_`` says why."""

    result_: Any
    naive_: Naive
    fallback_: str | None

    def predict(self, horizon: int) -> np.ndarray:
        """Forecast ``horizon`` steps ahead (naive if the fit failed or is not finite)."""
        horizon = _check_horizon(horizon)
        if self.result_ is None:
            return self.naive_.predict(horizon)
        forecast = np.asarray(self.result_.forecast(horizon), dtype=np.float64)
        if not np.isfinite(forecast).all():
            self.fallback_ = "forecast not finite"
            return self.naive_.predict(horizon)
        return forecast


class AutoARIMA(_FittedOrNaive):
    """ARIMA(p, d, q) with a constant or drift, order picked by the lowest AIC.

    As in Hyndman & Khandakar (2008), the differencing order ``d ≤ max_d`` is chosen first
    by repeated KPSS tests (difference while stationarity is rejected at 5 %), because AICs
    of different ``d`` are not comparable; then ``p ∈ 0..max_p``, ``q ∈ 0..max_q`` are
    searched exhaustively (9 fits at the defaults). Only the last ``max_history``
    observations are used so long series stay cheap, and BLAS runs single-threaded during
    the fits: the matrices are tiny, and multi-threaded BLAS made each fit over ten times
    slower on a busy 2-core machine.
    Orders whose fit fails are skipped; if none fits, or the forecast is not finite, it
    falls back to the naive forecast and says why in ``fallback_`` (None when it did not),
    so a table can say ``arima (naive on 3 of 4 series: fit failed)``.

    With ``season_length`` m > 1 the season is taken out first, as ``forecast::stlf`` does:
    a robust STL decomposition (Cleveland et al. 1990) with period m, the ARIMA fitted to the
    seasonally adjusted values, and the last season of the seasonal component added back to
    its forecast. The history kept is then at least 3 m, and a history shorter than two
    seasons is fitted without it (``seasonal_`` says which). Seasonal ARIMA terms instead
    cost 3.0 s for one SARIMA(1,1,1)(1,0,1) fit at m = 48 on 500 points, so a search over
    orders takes minutes; STL took 0.1 s at m = 48 (500 points) and 1.3 s at m = 336 (1,008
    points) on the project's CPU machine.
    """

    name = "arima"

    def __init__(
        self,
        max_p: int = 2,
        max_d: int = 1,
        max_q: int = 2,
        max_history: int = 500,
        season_length: int = 1,
    ) -> None:
        self.max_p = max_p
        self.max_d = max_d
        self.max_q = max_q
        self.max_history = max_history
        self.season_length = int(season_length)

    @property
    def _history(self) -> int:
        """Observations kept: ``max_history``, at least three seasons."""
        return max(self.max_history, 3 * self.season_length)

    @property
    def label(self) -> str:
        """What this ARIMA is, for tables: ``arima (non-seasonal, p,q ≤ 2, last 500 points)``
        or ``arima (STL season 48, p,q ≤ 2, last 500 points)``."""
        grid = (
            f"p,q ≤ {self.max_p}"
            if self.max_p == self.max_q
            else f"p ≤ {self.max_p}, q ≤ {self.max_q}"
        )
        kind = f"STL season {self.season_length}" if self.season_length > 1 else "non-seasonal"
        return f"arima ({kind}, {grid}, last {self._history} points)"

    def fit(self, history: np.ndarray) -> AutoARIMA:
        """Take the season out (m > 1), then fit every order of the grid and keep the one
        with the lowest AIC."""
        from statsmodels.tsa.arima.model import ARIMA
        from threadpoolctl import threadpool_limits

        values = _as_history(history)[-self._history :]
        self.order_: tuple[int, int, int] | None = None
        self.aic_ = np.inf
        self.result_ = None
        self.naive_ = Naive().fit(values)
        self.fallback_: str | None = None
        self.seasonal_: np.ndarray | None = None  # the last season of the STL component
        m = self.season_length
        if m > 1 and values.size >= 2 * m:
            from statsmodels.tsa.seasonal import STL

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                seasonal = STL(values, period=m, robust=True).fit().seasonal
            self.seasonal_ = seasonal[-m:]
            values = values - seasonal
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
        if self.result_ is None:
            self.fallback_ = "fit failed"
        return self

    def predict(self, horizon: int) -> np.ndarray:
        """Forecast ``horizon`` steps: the ARIMA forecast plus the last season (naive on
        the original values if the fit failed or is not finite)."""
        forecast = super().predict(horizon)
        if self.result_ is None or self.fallback_ or self.seasonal_ is None:
            return forecast
        return forecast + self.seasonal_[np.arange(horizon) % self.season_length]

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


class BestSeasonalNaive:
    """The seasonal naive forecast whose season, among ``seasons`` (1 is naive), has the lowest
    ``horizon``-step error on the history (see :func:`best_season`); named with its season.

    The candidates are every season the frequency implies (48 and 336 for half-hours; see
    :func:`rnnlab.data.user.season_lengths_for`), so a weekly pattern is not missed because
    the daily season is the default.
    """

    name = "seasonal-naive"

    def __init__(self, seasons: Sequence[int], horizon: int) -> None:
        self.seasons = sorted({int(m) for m in seasons} | {1})
        self.horizon = _check_horizon(horizon)

    def fit(self, history: np.ndarray) -> BestSeasonalNaive:
        """Pick the season on ``history``, then remember its last season."""
        values = _as_history(history)
        self.season_ = best_season([values], self.seasons, self.horizon)
        self.model_ = SeasonalNaive(self.season_).fit(values)
        return self

    def predict(self, horizon: int) -> np.ndarray:
        """Forecast ``horizon`` steps ahead with the chosen season."""
        return self.model_.predict(horizon)


def seasonal_naive_errors(values: np.ndarray, season: int, horizon: int) -> np.ndarray:
    """Absolute errors of the ``horizon``-step seasonal naive forecast (season ``season``)
    from every origin of ``values`` that has a full season before it, shape (origins, h)."""
    values = np.asarray(values, dtype=np.float64)
    origins = np.arange(season, values.size - horizon + 1)
    if origins.size == 0:
        return np.empty((0, horizon))
    steps = np.arange(horizon)
    source = origins[:, None] - season + steps % season
    return np.abs(values[origins[:, None] + steps] - values[source])


def best_season(histories: Sequence[np.ndarray], seasons: Sequence[int], horizon: int) -> int:
    """The season (1 = naive) of the seasonal naive forecast with the lowest mean
    ``horizon``-step MAE over every origin of ``histories`` (errors of each series divided by
    its naive error, so no series dominates by its units); seasons longer than a third of the
    shortest history are not tried."""
    shortest = min(len(h) for h in histories)
    candidates = sorted({int(m) for m in seasons if 0 < int(m) <= shortest // 3} | {1})
    scores = {}
    for m in candidates:
        ratios = []
        for values in histories:
            errors = seasonal_naive_errors(values, m, horizon)
            naive = seasonal_naive_errors(values, 1, horizon).mean()
            if errors.size:
                ratios.append(errors.mean() / naive if naive > 0 else errors.mean())
        if ratios:
            scores[m] = float(np.mean(ratios))
    return min(scores, key=scores.get) if scores else 1


class _SmoothingBaseline(_FittedOrNaive):
    """Shared scaffold of the statsmodels smoothing baselines: fit on the last
    ``max_history`` points, forecast naive (``fallback_`` says why) when the history is too
    short, the fit fails or its forecast is not finite."""

    min_history = 4

    def __init__(self, season_length: int = 1, max_history: int = 2000) -> None:
        self.season_length = int(season_length)
        self.max_history = max_history

    def _model(self, values: np.ndarray) -> Any:
        """The unfitted statsmodels model for ``values``."""
        raise NotImplementedError

    def fit(self, history: np.ndarray) -> Self:
        """Fit the smoothing parameters."""
        values = _as_history(history)[-self.max_history :]
        self.naive_ = Naive().fit(values)
        self.fallback_: str | None = None
        self.result_ = None
        if values.size < self.min_history:
            self.fallback_ = "too short"
            return self
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.result_ = self._model(values).fit()
        except (ValueError, np.linalg.LinAlgError):
            self.fallback_ = "fit failed"
        return self


class ETS(_SmoothingBaseline):
    """Exponential smoothing (statsmodels Holt-Winters): additive damped trend, additive
    season ``season_length`` when the history holds two full seasons, heuristic initial
    states (estimating hundreds of seasonal states is slow and unstable). Uses the last
    ``max_history`` points. Falls back to naive (``fallback_`` says why) if the fit fails."""

    name = "ets"
    min_history = 10

    def _model(self, values: np.ndarray) -> Any:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        m = self.season_length
        seasonal = m > 1 and values.size >= 2 * m + 2
        return ExponentialSmoothing(
            values,
            trend="add",
            damped_trend=True,
            seasonal="add" if seasonal else None,
            seasonal_periods=m if seasonal else None,
            initialization_method="heuristic" if values.size >= 10 + 2 * m else "estimated",
        )


class Theta(_SmoothingBaseline):
    """The Theta method (Assimakopoulos & Nikolopoulos 2000, statsmodels ``ThetaModel``):
    simple exponential smoothing plus half the linear trend, on the series deseasonalised
    with season ``season_length`` (additively, so zeros and negatives are fine). Uses the
    last ``max_history`` points; falls back to naive (``fallback_``) if the fit fails."""

    name = "theta"

    def _model(self, values: np.ndarray) -> Any:
        from statsmodels.tsa.forecasting.theta import ThetaModel

        m = self.season_length
        seasonal = m > 1 and values.size >= 2 * m
        return ThetaModel(
            values, period=m if seasonal else 1, deseasonalize=seasonal, method="additive"
        )


class WindowLinear:
    """A linear map from the last ``window`` values to the next ``horizon`` (DLinear-style,
    Zeng et al. 2023, without the trend/remainder split, which is itself linear): ridge
    regression on every window of the history, each window centred on its own mean so a
    level shift does not need refitting. Uses at most ``max_windows`` most recent windows;
    the window shrinks to a third of a short history."""

    name = "linear"

    def __init__(self, window: int, alpha: float = 1.0, max_windows: int = 5000) -> None:
        self.window = int(window)
        self.alpha = alpha
        self.max_windows = max_windows

    def fit(self, history: np.ndarray) -> WindowLinear:
        """Remember the history; the map is fitted for the horizon asked in ``predict``."""
        self.history_ = _as_history(history)
        return self

    def predict(self, horizon: int) -> np.ndarray:
        """Fit the ridge map for ``horizon`` steps and apply it to the last window."""
        from numpy.lib.stride_tricks import sliding_window_view

        horizon = _check_horizon(horizon)
        values = self.history_
        window = min(self.window, (values.size - horizon) // 3)
        if window < 1:
            return Naive().fit(values).predict(horizon)
        pairs = sliding_window_view(values, window + horizon)[-self.max_windows :]
        x, y = pairs[:, :window], pairs[:, window:]
        level = x.mean(axis=1, keepdims=True)
        x, y = x - level, y - level
        gram = x.T @ x + self.alpha * np.eye(window)
        weights = np.linalg.solve(gram, x.T @ y)
        last = values[-window:]
        return (last - last.mean()) @ weights + last.mean()


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
