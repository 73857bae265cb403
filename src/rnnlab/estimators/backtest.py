"""Rolling-origin backtests: expanding-window folds and forecast error metrics.

A backtest with ``K`` folds and horizon ``h`` on a series of length ``n`` puts the forecast
origins at ``n - K·h, n - (K-1)·h, …, n - h``: fold ``k`` trains on everything before its
origin (the window expands) and is scored on the ``h`` steps after it, so the test windows
tile the end of the series without overlapping. Metrics are computed per (series, fold),
averaged over folds per series, and averaged over series for the overall row.

MASE (Hyndman & Koehler 2006) scales the MAE by the in-sample MAE of the seasonal naive
forecast on the fold's training data, ``mean(|y_t - y_{t-m}|)``; a MASE below 1 beats the
one-step seasonal naive forecast inside the training data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from rnnlab.errors import UserInputError

METRICS = ("mae", "rmse", "smape", "mase")


class UnivariateForecaster(Protocol):
    """What :func:`univariate` needs of a baseline (see :mod:`rnnlab.baselines`)."""

    def fit(self, history: np.ndarray) -> UnivariateForecaster: ...

    def predict(self, horizon: int) -> np.ndarray: ...


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(np.asarray(y_true) - np.asarray(y_pred))))


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error."""
    return float(np.sqrt(np.mean((np.asarray(y_true) - np.asarray(y_pred)) ** 2)))


def smape(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Symmetric MAPE in percent, ``100 · mean(2|y - ŷ| / (|y| + |ŷ|))``; 0/0 terms count 0."""
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    denom = np.abs(y_true) + np.abs(y_pred)
    ratio = np.divide(2 * np.abs(y_true - y_pred), denom, out=np.zeros_like(denom), where=denom > 0)
    return float(100 * ratio.mean())


def mase(
    y_true: np.ndarray, y_pred: np.ndarray, y_train: np.ndarray, season_length: int = 1
) -> float:
    """Mean absolute scaled error: MAE over the in-sample seasonal-naive MAE of ``y_train``.

    Uses ``m = season_length`` when the training data holds more than one season, else
    ``m = 1``. Returns NaN when the scale is zero (a constant training series).
    """
    y_train = np.asarray(y_train, float)
    m = season_length if y_train.size > season_length else 1
    if y_train.size <= m:
        return float("nan")
    scale = float(np.mean(np.abs(y_train[m:] - y_train[:-m])))
    return mae(y_true, y_pred) / scale if scale > 0 else float("nan")


@dataclass(frozen=True)
class Fold:
    """One rolling origin: train on ``[0, origin)``, test on ``[origin, origin + horizon)``."""

    index: int
    origin: int
    horizon: int

    @property
    def test_end(self) -> int:
        """End (exclusive) of the test window."""
        return self.origin + self.horizon


def rolling_origin_folds(
    n_obs: int, horizon: int, folds: int, min_train: int = 1, *, series: str | None = None
) -> list[Fold]:
    """Expanding-window folds whose test windows tile the last ``folds · horizon`` steps.

    Raises:
        UserInputError: ``horizon`` or ``folds`` not positive, or the first fold would train
            on fewer than ``min_train`` observations (the message gives the most folds the
            series allows).
    """
    if int(horizon) <= 0:
        raise UserInputError(f"horizon must be a positive integer; got {horizon}")
    if int(folds) <= 0:
        raise UserInputError(f"--folds must be a positive integer; got {folds}")
    first_origin = n_obs - folds * horizon
    if first_origin < min_train:
        allowed = max((n_obs - min_train) // horizon, 0)
        where = f"series {series!r}" if series is not None else "the series"
        raise UserInputError(
            f"{folds} folds of horizon {horizon} need at least {min_train + folds * horizon} "
            f"observations ({min_train} to train the first fold); {where} has {n_obs}, "
            f"which allows at most {allowed} fold(s)"
        )
    return [Fold(k, first_origin + k * horizon, horizon) for k in range(folds)]


# A forecasting method for the backtest: given each series' origin (its training data is
# ``values[:origin]``) and the horizon, return ``horizon`` forecasts per series. Methods get
# all series of a fold at once so a global (cross-series) model is fitted once per fold.
ForecastFn = Callable[[Mapping[str, int], int], Mapping[str, np.ndarray]]


def univariate(
    series: Mapping[str, np.ndarray], make: Callable[[], UnivariateForecaster]
) -> ForecastFn:
    """Turn a per-series baseline factory (``fit(history)``, ``predict(h)``) into a method."""

    def forecast(origins: Mapping[str, int], horizon: int) -> dict[str, np.ndarray]:
        return {
            sid: make().fit(np.asarray(series[sid])[:origin]).predict(horizon)
            for sid, origin in origins.items()
        }

    return forecast


def backtest(
    series: Mapping[str, np.ndarray],
    methods: Mapping[str, ForecastFn],
    *,
    horizon: int,
    folds: int,
    season_length: int = 1,
    min_train: int = 1,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Score every method on every series and fold; return the long table of metrics.

    Args:
        series: series id -> target values in time order (1-D), in original units.
        methods: method name -> forecast function (see :data:`ForecastFn`); it must use
            only data before each series' origin.
        horizon, folds: as in :func:`rolling_origin_folds`.
        season_length: the ``m`` of MASE.
        min_train: fewest training observations the first fold may have.
        progress: optional callback called with a short status line before each method.

    Returns:
        DataFrame with columns ``method, series, fold, origin`` and one per :data:`METRICS`.
    """
    plans = {
        sid: rolling_origin_folds(len(values), horizon, folds, min_train, series=sid)
        for sid, values in series.items()
    }
    arrays = {sid: np.asarray(values, dtype=np.float64) for sid, values in series.items()}
    rows = []
    for k in range(folds):
        origins = {sid: plan[k].origin for sid, plan in plans.items()}
        for name, forecast in methods.items():
            if progress is not None:
                progress(f"fold {k + 1}/{folds}: {name}")
            preds = forecast(origins, horizon)
            for sid, origin in origins.items():
                values = arrays[sid]
                train, test = values[:origin], values[origin : origin + horizon]
                pred = np.asarray(preds[sid], dtype=np.float64).reshape(-1)
                if pred.shape != test.shape:
                    raise ValueError(
                        f"method {name!r} returned {pred.size} values for horizon {horizon}"
                    )
                rows.append(
                    {
                        "method": name,
                        "series": sid,
                        "fold": k,
                        "origin": origin,
                        "mae": mae(test, pred),
                        "rmse": rmse(test, pred),
                        "smape": smape(test, pred),
                        "mase": mase(test, pred, train, season_length),
                    }
                )
    return pd.DataFrame(rows)


def summarize(scores: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Aggregate :func:`backtest` scores.

    Returns:
        ``(per_series, overall)``: metrics averaged over folds per (method, series), and
        those averaged over series per method (index ``method``), sorted by MASE then MAE.
    """
    per_series = scores.groupby(["method", "series"], sort=False)[list(METRICS)].mean()
    overall = per_series.groupby(level="method", sort=False).mean()
    return per_series.reset_index(), overall.sort_values(["mase", "mae"])


def verdicts(overall: pd.DataFrame, model: str, metric: str = "mase") -> list[str]:
    """Plain sentences comparing ``model`` to every other method on ``metric``.

    The sentence says "does NOT beat" whenever the model's score is not strictly lower.
    """
    if model not in overall.index:
        return []
    ours = float(overall.loc[model, metric])
    lines = []
    for other in overall.index:
        if other == model:
            continue
        theirs = float(overall.loc[other, metric])
        # A tie up to float rounding (a network that forecasts its baseline) is no win.
        if ours < theirs and not np.isclose(ours, theirs, rtol=1e-6, atol=0):
            lines.append(f"{model} beats {other} on {metric.upper()} ({ours:.4g} vs {theirs:.4g})")
        else:
            lines.append(
                f"{model} does NOT beat {other} on {metric.upper()} ({ours:.4g} vs {theirs:.4g})"
            )
    return lines
