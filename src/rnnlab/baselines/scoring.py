"""Baseline scores on exactly the test windows/sequences a comparison scores its models on.

``rnnlab compare --data FILE --kind ...`` trains networks on
:meth:`ForecastData.window_set` windows (scaled per series) or on
:class:`SequenceClassificationData` splits; :func:`baseline_metrics` scores the classic
baselines on the same test split, in the same units and under the same metric names
(``test_mse``/``test_mae`` on scaled targets for forecasting, as
:meth:`rnnlab.models.ForecastNet.metrics` reports them; ``test_accuracy``/``test_macro_f1``
for classification), so they can sit in the comparison table as extra rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from rnnlab.baselines.classify import SummaryLogisticRegression
from rnnlab.baselines.forecast import AutoARIMA, Naive, SeasonalNaive
from rnnlab.data.containers import ForecastData, SequenceClassificationData
from rnnlab.errors import UserInputError


def forecast_baseline_metrics(
    data: ForecastData, window: int, horizon: int
) -> dict[str, dict[str, float]]:
    """Test MSE/MAE (scaled units) of naive, seasonal naive and ARIMA per test window.

    Each window's forecast uses only the series' values before the window's first target
    step. ARIMA's order is chosen once per series on the training split; at each origin the
    fitted parameters are re-applied to the history up to that origin (no refit), as
    statsmodels' ``results.apply`` does.
    """
    windows = data.window_set("test", window, horizon)
    full = dict(data.per_series(pd.concat([data.train, data.val, data.test])))
    train_parts = dict(data.per_series(data.train))
    ids = data.series_ids
    starts = windows.start
    n_targets = len(data.target_columns)
    methods = {"naive": [], "seasonal-naive": [], "arima": []}
    arima: dict[tuple[int, int], Any] = {}
    season = int(data.season_length or 1)
    for s_index, start in zip(windows.series.tolist(), starts, strict=True):
        frame = full[ids[s_index]]
        position = int(np.flatnonzero(frame[data.time_column].to_numpy() == start)[0])
        per_target = {name: [] for name in methods}
        for t, column in enumerate(data.target_columns):
            history = frame[column].to_numpy(np.float64)[:position]
            per_target["naive"].append(Naive().fit(history).predict(horizon))
            per_target["seasonal-naive"].append(SeasonalNaive(season).fit(history).predict(horizon))
            key = (s_index, t)
            if key not in arima:
                train = train_parts[ids[s_index]][column].to_numpy(np.float64)
                arima[key] = AutoARIMA().fit(train)
            per_target["arima"].append(_apply_arima(arima[key], history, horizon))
        for name in methods:
            methods[name].append(np.stack(per_target[name], axis=-1))  # (H, n_targets)
    truth = windows.y.numpy().astype(np.float64)
    scale = data.scaler.scale_[windows.series.numpy(), None, :n_targets]
    mean = data.scaler.mean_[windows.series.numpy(), None, :n_targets]
    out = {}
    for name, forecasts in methods.items():
        scaled = (np.stack(forecasts) - mean) / scale
        error = scaled - truth
        out[name] = {"test_mse": float((error**2).mean()), "test_mae": float(np.abs(error).mean())}
    return out


def _apply_arima(model: AutoARIMA, history: np.ndarray, horizon: int) -> np.ndarray:
    if model.result_ is None:
        return Naive().fit(history).predict(horizon)
    applied = model.result_.apply(history[-model.max_history :])
    forecast = np.asarray(applied.forecast(horizon), dtype=np.float64)
    return forecast if np.isfinite(forecast).all() else Naive().fit(history).predict(horizon)


def classification_baseline_metrics(
    data: SequenceClassificationData,
) -> dict[str, dict[str, float]]:
    """Test accuracy and macro-F1 of the summary-statistics logistic regression."""
    from sklearn.metrics import f1_score

    if data.vocab is not None:
        raise UserInputError("the logistic-regression baseline needs float sequences, not tokens")
    train, test = data.train, data.test
    model = SummaryLogisticRegression().fit(train.x.numpy(), train.lengths.numpy(), train.y.numpy())
    pred = model.predict(test.x.numpy(), test.lengths.numpy())
    truth = test.y.numpy()
    labels = list(range(data.num_classes))
    return {
        "logistic-regression": {
            "test_accuracy": float((pred == truth).mean()),
            "test_macro_f1": float(f1_score(truth, pred, average="macro", labels=labels)),
        }
    }


def baseline_metrics(data: Any, options: dict[str, Any] | None = None) -> dict[str, dict]:
    """Baseline scores for a comparison task built from ``data`` with task ``options``
    (``window`` and ``horizon`` for forecasting, defaults 24 and 1 as in the runner)."""
    options = options or {}
    if isinstance(data, ForecastData):
        window, horizon = int(options.get("window", 24)), int(options.get("horizon", 1))
        return forecast_baseline_metrics(data, window, horizon)
    if isinstance(data, SequenceClassificationData):
        return classification_baseline_metrics(data)
    raise UserInputError(f"no baselines for {type(data).__name__}")
