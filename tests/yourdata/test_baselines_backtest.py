"""Baselines and backtest metrics on inputs whose answers are known by hand."""

import numpy as np
import pytest

from rnnlab.baselines import (
    AutoARIMA,
    Naive,
    SeasonalNaive,
    SummaryLogisticRegression,
    summary_features,
)
from rnnlab.errors import UserInputError
from rnnlab.estimators.backtest import (
    backtest,
    mae,
    mase,
    rmse,
    rolling_origin_folds,
    smape,
    summarize,
    univariate,
    verdicts,
)


def test_naive_repeats_last_value():
    np.testing.assert_array_equal(Naive().fit([3.0, 1.0, 7.5]).predict(4), [7.5] * 4)


def test_seasonal_naive_tiles_last_season():
    history = np.arange(10.0)  # last season of 4 is 6, 7, 8, 9
    pred = SeasonalNaive(4).fit(history).predict(6)
    np.testing.assert_array_equal(pred, [6, 7, 8, 9, 6, 7])


def test_seasonal_naive_short_history_falls_back_to_naive():
    np.testing.assert_array_equal(SeasonalNaive(12).fit([1.0, 2.0]).predict(3), [2, 2, 2])


def test_baselines_reject_bad_input():
    with pytest.raises(UserInputError, match="horizon"):
        Naive().fit([1.0]).predict(0)
    with pytest.raises(UserInputError, match="NaN"):
        Naive().fit([1.0, np.nan])
    with pytest.raises(UserInputError, match="season_length"):
        SeasonalNaive(0)


def test_arima_on_ar1_beats_naive_and_finds_ar_term():
    rng = np.random.default_rng(0)
    phi, n = 0.7, 300
    y = np.zeros(n + 10)
    for t in range(1, n + 10):
        y[t] = phi * y[t - 1] + rng.normal()
    history = y[:n]
    model = AutoARIMA(max_p=2, max_d=1, max_q=1).fit(history)
    assert model.order_ is not None and model.order_[0] >= 1 and model.order_[1] == 0
    # The one-step forecast of an AR(1) is phi * y_T: the fitted model must be close to it.
    assert model.predict(1)[0] == pytest.approx(phi * history[-1], abs=0.3)
    # Averaged over many origins, ARIMA beats naive on AR(1) data.
    arima_err, naive_err = [], []
    for origin in range(240, 300, 10):
        h = y[:origin]
        fitted = AutoARIMA(max_p=1, max_d=0, max_q=0).fit(h)
        arima_err.append(abs(fitted.predict(1)[0] - y[origin]))
        naive_err.append(abs(h[-1] - y[origin]))
    assert np.mean(arima_err) < np.mean(naive_err)


def test_metrics_on_known_values():
    y, p = np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 1.0])
    assert mae(y, p) == pytest.approx(4 / 3)
    assert rmse(y, p) == pytest.approx(np.sqrt(10 / 3))
    # sMAPE terms: 2·1/3, 0, 2·3/5 → mean · 100
    assert smape(y, p) == pytest.approx(100 * (2 / 3 + 0 + 6 / 5) / 3)
    assert smape([0.0], [0.0]) == 0.0


def test_mase_definition():
    train = np.array([1.0, 3.0, 2.0, 6.0])  # |diffs| lag 1: 2, 1, 4 → scale 7/3
    assert mase([5.0], [4.0], train, 1) == pytest.approx(1 / (7 / 3))
    # lag 2: |2-1|, |6-3| → scale 2
    assert mase([5.0, 5.0], [4.0, 8.0], train, 2) == pytest.approx(2 / 2)
    # naive one-step forecast inside the sample scores exactly 1 by construction
    series = np.array([2.0, 5.0, 3.0, 8.0, 6.0])
    assert mase(series[1:], series[:-1], series, 1) == pytest.approx(1.0)
    assert np.isnan(mase([1.0], [1.0], np.ones(5)))


def test_folds_expand_and_tile_the_end():
    folds = rolling_origin_folds(20, horizon=3, folds=4, min_train=5)
    assert [f.origin for f in folds] == [8, 11, 14, 17]
    assert folds[-1].test_end == 20


def test_too_many_folds_says_how_many_fit():
    with pytest.raises(UserInputError, match=r"at most 3 fold\(s\)"):
        rolling_origin_folds(20, horizon=5, folds=4, min_train=5)
    with pytest.raises(UserInputError, match="folds must be a positive"):
        rolling_origin_folds(20, horizon=5, folds=0)


def test_backtest_scores_and_verdicts():
    t = np.arange(48, dtype=float)
    series = {"a": np.sin(2 * np.pi * t / 12) * 10 + 20, "b": t % 12}
    methods = {
        "naive": univariate(series, Naive),
        "seasonal-naive": univariate(series, lambda: SeasonalNaive(12)),
    }
    scores = backtest(series, methods, horizon=6, folds=2, season_length=12, min_train=12)
    assert len(scores) == 2 * 2 * 2
    per_series, overall = summarize(scores)
    # Exactly periodic series: seasonal naive is perfect.
    assert overall.loc["seasonal-naive", "mae"] == pytest.approx(0.0, abs=1e-9)
    assert overall.loc["naive", "mae"] > 0
    assert set(per_series["series"]) == {"a", "b"}
    lines = verdicts(overall, "naive")
    assert lines == [lines[0]] and "does NOT beat seasonal-naive" in lines[0]


def test_summary_features_and_logistic_baseline():
    x = np.zeros((2, 4, 1))
    x[0, :3, 0] = [1.0, 2.0, 3.0]
    x[1, :2, 0] = [5.0, 1.0]
    feats = summary_features(x, np.array([3, 2]))
    # mean, std, min, max, first, last, slope for sequence 0 (padding ignored)
    np.testing.assert_allclose(feats[0], [2.0, np.std([1, 2, 3]), 1, 3, 1, 3, 1.0])
    np.testing.assert_allclose(feats[1][[0, 6]], [3.0, -4.0])
    rng = np.random.default_rng(0)
    n = 60
    y = np.arange(n) % 2
    lengths = rng.integers(5, 10, n)
    x = rng.normal(size=(n, 10, 2)) + y[:, None, None] * 2.0
    for i, n_i in enumerate(lengths):
        x[i, n_i:] = 0.0
    model = SummaryLogisticRegression().fit(x, lengths, y)
    assert (model.predict(x, lengths) == y).mean() > 0.9
    assert model.predict_proba(x, lengths).shape == (n, 2)


def test_compare_hook_scores_baselines_on_the_test_windows():
    import pandas as pd

    from rnnlab.baselines.scoring import baseline_metrics
    from rnnlab.data.containers import ForecastData

    t = np.arange(80)
    frame = pd.DataFrame({"time": t, "y": t.astype(float)})  # a ramp: naive lags by k
    data = ForecastData(frame[:56], frame[56:68], frame[68:], ["y"], season_length=4)
    scores = baseline_metrics(data, {"window": 8, "horizon": 3})
    scale = data.scaler.scale_[0, 0]
    # naive error at step k is k (original units) in every window: MAE = mean(1, 2, 3) / scale
    assert scores["naive"]["test_mae"] == pytest.approx(2.0 / scale)
    assert scores["seasonal-naive"]["test_mae"] > scores["naive"]["test_mae"]
    assert set(scores) == {"naive", "seasonal-naive", "arima"}


def test_old_backtest_path_warns_and_is_the_moved_module():
    import importlib
    import sys

    import rnnlab.estimators.backtest as moved

    sys.modules.pop("rnnlab.backtest", None)
    with pytest.warns(DeprecationWarning, match="use rnnlab.estimators.backtest"):
        old = importlib.import_module("rnnlab.backtest")
    assert old is moved and old.mase is mase


def test_verdict_calls_a_tie_up_to_rounding_no_win():
    import pandas as pd

    from rnnlab.estimators.backtest import verdicts

    overall = pd.DataFrame(
        {"mase": [0.5908, 0.5908 * (1 + 1e-9), 0.7]}, index=["gru", "snaive", "b"]
    )
    lines = verdicts(overall, "gru")
    assert lines[0] == "gru does NOT beat snaive on MASE (0.5908 vs 0.5908)"
    assert lines[1] == "gru beats b on MASE (0.5908 vs 0.7)"
