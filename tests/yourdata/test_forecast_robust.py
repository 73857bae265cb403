"""Forecasts that hold up on real series: per-window scaling, the seasonal baseline the
network corrects, the strongest simple baselines and calendars real data have."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from yourdata_frames import forecast_frame

from rnnlab.baselines import ETS, AutoARIMA, BestSeasonalNaive, Theta, WindowLinear, best_season
from rnnlab.cli import main
from rnnlab.data.user import load_forecast_csv, season_lengths_for
from rnnlab.errors import UserInputError
from rnnlab.estimators import Forecaster, load
from rnnlab.estimators.forecast_inputs import WindowTransform

TINY = {"hidden_size": 8, "epochs": 2, "device": "cpu", "batch_size": 32}


def _two_seasons(n: int = 24 * 7 * 6, seed: int = 0) -> np.ndarray:
    """Hourly-like values with a daily (24) and a strong weekly (168) pattern."""
    t = np.arange(n)
    weekly = np.where((t // 24) % 7 >= 5, -3.0, 0.0)
    rng = np.random.default_rng(seed)
    return 10 + np.sin(2 * np.pi * t / 24) + weekly + rng.normal(0, 0.05, n)


def test_window_transform_round_trip_and_scale_invariance():
    torch.manual_seed(0)
    x = torch.randn(4, 12, 3)
    y = torch.randn(4, 5, 2)
    transform = WindowTransform(n_targets=2, horizon=5, scaling="window", season=4)
    encoded = transform.encode(x, None)
    # The baseline is appended as a future input, one per target.
    assert encoded.future.shape == (4, 5, 2) and transform.extra_future == 2
    torch.testing.assert_close(transform.decode(transform.targets(y, encoded), encoded), y)
    # An affine change of the targets (a trend taking the level elsewhere) changes nothing the
    # network sees; covariates (column 2) are left alone.
    moved = x.clone()
    moved[..., :2] = 7.0 * x[..., :2] + 100.0
    again = transform.encode(moved, None)
    torch.testing.assert_close(again.x, encoded.x, rtol=1e-4, atol=1e-4)
    # Quantile outputs (B, H, T, Q) decode level by level.
    out = torch.zeros(4, 5, 2, 3)
    decoded = transform.decode(out, encoded)
    base = transform.decode(torch.zeros(4, 5, 2), encoded)
    torch.testing.assert_close(decoded[..., 1], base)


def test_seasonal_baseline_in_the_transform_is_the_seasonal_naive_forecast():
    x = torch.arange(10.0).view(1, 10, 1)
    transform = WindowTransform(n_targets=1, horizon=6, scaling="global", season=4)
    encoded = transform.encode(x, None)
    # Last season 6, 7, 8, 9 tiled over the horizon.
    assert encoded.base.view(-1).tolist() == [6, 7, 8, 9, 6, 7]


def test_seasonal_inputs_are_the_naive_forecasts_of_the_other_seasons():
    x = torch.arange(10.0).view(1, 10, 1)
    transform = WindowTransform(n_targets=1, horizon=6, scaling="global", season=4, lags=(1, 3))
    encoded = transform.encode(x, torch.full((1, 6, 1), -1.0))
    assert transform.extra_future == 3
    # Given future covariates first, then the baseline (m=4), then each lag in order.
    assert encoded.future[0, :, 0].tolist() == [-1] * 6
    assert encoded.future[0, :, 1].tolist() == [6, 7, 8, 9, 6, 7]
    assert encoded.future[0, :, 2].tolist() == [9] * 6
    assert encoded.future[0, :, 3].tolist() == [7, 8, 9, 7, 8, 9]
    with pytest.raises(UserInputError, match="season 12 needs a window of at least 12"):
        WindowTransform(1, 6, "global", season=4, lags=(12,)).encode(x, None)


def test_forecaster_gives_the_other_seasons_as_inputs_and_keeps_them_in_its_file(tmp_path):
    values = _two_seasons()
    df = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=len(values), freq="h")})
    df["y"] = values
    model = Forecaster("gru", horizon=24, window=168, seasonal_inputs=True, **TINY).fit(df)
    assert model.transform_.season == 168 and model.transform_.lags == (1, 24)
    assert model.network_.config.future_size == 3
    assert "seasonal inputs m=1/24" in model.summary_line()
    model.save(tmp_path / "m")
    again = load(tmp_path / "m")
    assert again.transform_ == model.transform_
    pd.testing.assert_frame_equal(again.predict(df), model.predict(df))
    plain = Forecaster("gru", horizon=24, window=168, seasonal_inputs=False, **TINY).fit(df)
    assert plain.transform_.lags == () and plain.network_.config.future_size == 1
    with pytest.raises(UserInputError, match="seasonal_inputs must be True or False"):
        Forecaster(seasonal_inputs="yes").fit(df)


def test_best_season_finds_the_weekly_pattern():
    values = _two_seasons()
    assert season_lengths_for("h") == [24, 168]
    assert season_lengths_for("30min") == [48, 336]
    assert season_lengths_for("D") == [7, 365]
    assert season_lengths_for("B") == [5]
    assert season_lengths_for("MS") == [12]
    assert best_season([values], [24, 168], horizon=24) == 168
    model = BestSeasonalNaive([24, 168], horizon=24).fit(values)
    assert model.season_ == 168
    np.testing.assert_allclose(model.predict(24), values[-168:-144])
    # A random walk: no season helps, naive (1) wins.
    walk = np.cumsum(np.random.default_rng(1).normal(size=600))
    assert best_season([walk], [24, 168], horizon=5) == 1


def test_linear_ets_theta_on_simple_series():
    trend = 3.0 + 0.5 * np.arange(200)
    np.testing.assert_allclose(
        WindowLinear(20).fit(trend).predict(5), 3.0 + 0.5 * np.arange(200, 205), rtol=1e-3
    )
    t = np.arange(24 * 20)
    values = 10 + np.sin(2 * np.pi * t / 24) + np.random.default_rng(0).normal(0, 0.05, t.size)
    history, future = values[:-24], values[-24:]
    naive_error = np.abs(future - history[-1]).mean()
    for model in (ETS(24), Theta(24)):
        forecast = model.fit(history).predict(24)
        assert model.fallback_ is None
        assert np.abs(forecast - future).mean() < naive_error


def test_arima_fallback_is_said_not_hidden(monkeypatch):
    from statsmodels.tsa.arima.model import ARIMA

    def broken(self, *args, **kwargs):
        raise np.linalg.LinAlgError("singular")

    monkeypatch.setattr(ARIMA, "fit", broken)
    model = AutoARIMA(max_p=1, max_q=1).fit(np.arange(50.0))
    assert model.fallback_ == "fit failed"
    np.testing.assert_allclose(model.predict(3), [49.0, 49.0, 49.0])


def test_backtest_table_names_arima_fallbacks(monkeypatch):
    from statsmodels.tsa.arima.model import ARIMA

    from rnnlab.estimators.report import backtest_forecaster

    df = forecast_frame(n=60)
    model = Forecaster("gru", horizon=5, window=10, series_id="unique_id", **TINY).fit(df)
    import rnnlab.baselines.forecast as forecast

    original_arima, original_fit = ARIMA.fit, forecast.AutoARIMA.fit
    failing = []

    def arima_fit(self, *args, **kwargs):
        if failing[-1]:
            raise ValueError("no fit")
        return original_arima(self, *args, **kwargs)

    def fails_on_series_b(self, history):
        failing.append(np.ptp(history) > 3)  # series "b" (amplitude 2; "a" has 1)
        return original_fit(self, history)

    monkeypatch.setattr(ARIMA, "fit", arima_fit)
    monkeypatch.setattr(forecast.AutoARIMA, "fit", fails_on_series_b)
    evaluation = backtest_forecaster(model, df, folds=2, refit=False)
    arima = [name for name in evaluation.overall.index if name.startswith("arima")]
    assert arima == ["arima (naive on 2 of 4 fits: fit failed)"]


def test_window_scaling_follows_a_series_out_of_its_training_range():
    """The stock-index case: trained on one level, forecast at a level three times higher."""
    t = np.arange(300)
    rng = np.random.default_rng(0)
    level = 100 + 0.2 * t + np.cumsum(rng.normal(0, 0.5, 300))
    df = pd.DataFrame({"ds": pd.bdate_range("2020-01-01", periods=300), "y": level})
    model = Forecaster("gru", horizon=5, window=20, **TINY).fit(df)
    assert model.freq_ == "B" and model.transform_.season in (1, 5)
    later = df.copy()
    later["y"] = 3 * later["y"]  # far outside the training range
    forecast = model.predict(later)
    last = later["y"].iloc[-1]
    assert np.abs(forecast["y"] / last - 1).max() < 0.05
    globally = Forecaster("gru", horizon=5, window=20, scaling="global", baseline="none", **TINY)
    pulled_back = globally.fit(df).predict(later)
    assert np.abs(pulled_back["y"] / last - 1).max() > 0.3  # what per-window scaling fixes


def test_untrained_network_forecasts_its_baseline():
    df = forecast_frame(series=("a",))
    settings = {**TINY, "epochs": 1, "lr": 1e-12}
    model = Forecaster("gru", horizon=5, window=14, baseline="seasonal", **settings).fit(df)
    assert model.transform_.season == 7
    forecast = model.predict(df)
    np.testing.assert_allclose(forecast["y"], df["y"].to_numpy()[-7:-2], rtol=1e-4)


def test_business_days_are_inferred_and_predict_accepts_them(tmp_path, capsys):
    times = pd.bdate_range("2021-01-01", periods=120)
    values = 100 + np.cumsum(np.random.default_rng(0).normal(size=120))
    path = tmp_path / "index.csv"
    pd.DataFrame({"date": times.strftime("%Y-%m-%d"), "close": values}).to_csv(path, index=False)
    data = load_forecast_csv(path)
    assert data.freq == "B" and data.season_length == 5
    model_dir = tmp_path / "model"
    args = ["fit", "forecast", str(path), "--time", "date", "--target", "close"]
    assert main([*args, "--horizon", "5", "--epochs", "1", "--out", str(model_dir)]) == 0
    out = tmp_path / "forecast.csv"
    assert main(["predict", str(model_dir), str(path), "--out", str(out), "--freq", "B"]) == 0
    forecast = pd.read_csv(out, parse_dates=["date"])
    assert (forecast["date"].dt.dayofweek < 5).all() and len(forecast) == 5
    capsys.readouterr()
    assert main(["predict", str(model_dir), str(path), "--out", str(out), "--freq", "D"]) == 2
    assert "differs from the model's frequency 'B'" in capsys.readouterr().err


def test_monthly_iso_dates_are_month_starts():
    times = pd.date_range("2010-01-01", periods=40, freq="MS").strftime("%Y-%m-%d")
    data = load_forecast_csv(pd.DataFrame({"ds": times, "y": np.arange(40.0)}))
    assert data.freq == "MS" and data.season_length == 12


def test_fit_says_when_it_loses_to_naive_and_predict_repeats_it(tmp_path, capsys):
    walk = 50 + np.cumsum(np.random.default_rng(3).normal(size=200))
    path = tmp_path / "walk.csv"
    pd.DataFrame({"ds": pd.date_range("2021-01-01", periods=200), "y": walk}).to_csv(
        path, index=False
    )
    model_dir = tmp_path / "model"
    # No baseline and a learning rate too small to learn anything: it loses to naive.
    args = ["fit", "forecast", str(path), "--time", "ds", "--target", "y", "--horizon", "5"]
    extra = ["--baseline", "none", "--scaling", "global", "--epochs", "1", "--lr", "1e-9"]
    assert main([*args, *extra, "--out", str(model_dir)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("warning: gru does not beat naive") and "MASE gru" in err[-1]
    config = json.loads((model_dir / "config.json").read_text())
    assert config["state"]["warning"] == err[-1]
    assert load(model_dir).warning_ == err[-1]
    out = tmp_path / "forecast.csv"
    assert main(["predict", str(model_dir), str(path), "--out", str(out)]) == 0
    assert f"note from fit: {err[-1]}" in capsys.readouterr().err


@pytest.mark.parametrize("limit", [None, 7])
def test_windows_subsampled_per_epoch(limit):
    from rnnlab.estimators.forecaster import _epoch_batches

    df = forecast_frame(series=("a",))
    windows = load_forecast_csv(df, val_steps=0).window_set("train", 10, 5)
    gen = torch.Generator().manual_seed(0)
    batches = list(_epoch_batches(windows, 4, limit, gen))
    seen = sum(len(b) for b in batches)
    assert seen == (len(windows) if limit is None else limit)


def test_seq2seq_trains_as_it_forecasts_and_validation_improves():
    df = forecast_frame(n=200, series=("a",))
    model = Forecaster(
        "gru",
        horizon=5,
        window=14,
        head="seq2seq",
        baseline="none",
        scaling="global",
        hidden_size=16,
        epochs=6,
        patience=6,
        windows_per_epoch=None,
        device="cpu",
        lr=1e-2,
    ).fit(df)
    assert model.network_.config.teacher_forcing == 0.0
    training = model.metrics_["training"]
    # Teacher forcing in training and free-running validation left the best epoch at the
    # first one on real series; trained free-running, later epochs validate better.
    assert training["best_epoch"] > 0  # epochs count from 0


def test_static_and_exogenous_columns_reach_the_network(tmp_path):
    from rnnlab.estimators.report import backtest_forecaster

    df = forecast_frame(n=80)
    df["size"] = df["unique_id"].map({"a": 10.0, "b": 30.0})  # constant per series
    df["promo"] = (df["ds"].dt.dayofweek == 0).astype(float)  # known in advance
    model = Forecaster(
        "gru",
        horizon=5,
        window=14,
        series_id="unique_id",
        covariates=("temp",),
        future_covariates=("promo",),
        static=("size",),
        **TINY,
    ).fit(df)
    # Targets, past and future covariates, then the static column; standardised across series.
    assert model.network_.config.input_size == 4
    assert model.static_["values"] == {"a": [-1.0], "b": [1.0]}
    # The seasonal baseline rides along as an extra future input (one per target).
    assert model.network_.config.future_size == 2
    ahead = df.groupby("unique_id").tail(5).copy()
    ahead["ds"] += pd.Timedelta("5D")
    ahead[["y", "temp"]] = np.nan
    forecast = model.predict(pd.concat([df, ahead]))
    assert len(forecast) == 10
    # Different static values give different forecasts from the same history.
    model.static_["values"]["b"] = [-1.0]
    changed = model.predict(pd.concat([df, ahead]))
    assert not np.allclose(changed["y"].to_numpy()[5:], forecast["y"].to_numpy()[5:])
    model.static_["values"]["b"] = [1.0]
    model.save(tmp_path / "m")
    pd.testing.assert_frame_equal(load(tmp_path / "m").predict(pd.concat([df, ahead])), forecast)
    # A refit per fold gets the static values back.
    evaluation = backtest_forecaster(model, df, folds=1, refit=True)
    assert "gru" in evaluation.overall.index
    varying = df.assign(size=np.arange(len(df), dtype=float))
    with pytest.raises(UserInputError, match="change within a series"):
        Forecaster(horizon=5, window=14, series_id="unique_id", static=("size",), **TINY).fit(
            varying
        )


def test_hourly_times_across_daylight_saving_are_one_grid():
    times = pd.date_range("2021-03-27", periods=100, freq="h", tz="Europe/Berlin")
    assert times.astype(str).str[-6:].nunique() == 2  # +01:00 then +02:00
    data = load_forecast_csv(pd.DataFrame({"time": times.astype(str), "y": np.arange(100.0)}))
    assert data.freq == "h" and data.season_length == 24
    assert str(data.train["time"].dt.tz) == "UTC"


def test_falls_back_to_its_baseline_when_it_does_not_beat_it():
    walk = 50 + np.cumsum(np.random.default_rng(3).normal(size=200))
    df = pd.DataFrame({"ds": pd.date_range("2021-01-01", periods=200), "y": walk})
    settings = {**TINY, "epochs": 1, "lr": 1e-12}  # learns nothing: ties with its baseline
    model = Forecaster("gru", horizon=5, window=10, **settings).fit(df)
    assert model.transform_.season == 1 and model.forecast_from_ == "seasonal"
    assert "it forecasts its baseline (naive) instead" in model.warning_
    forecast = model.predict(df)
    np.testing.assert_allclose(forecast["y"], walk[-1])
    assert (forecast["y_q0.1"] <= forecast["y"]).all() and (
        forecast["y"] <= forecast["y_q0.9"]
    ).all()
    kept = Forecaster("gru", horizon=5, window=10, fallback=False, **settings).fit(df)
    assert kept.forecast_from_ == "network" and "consider using the baseline" in kept.warning_
    from rnnlab.estimators.report import backtest_forecaster

    notes = backtest_forecaster(model, df, folds=2).notes
    assert (
        "gru forecast a baseline instead of the network in 2 of 2 fits (its seasonal naive in 2)"
        in " ".join(notes)
    )


def _ar_series(n: int = 900, seed: int = 0) -> pd.DataFrame:
    """A noisy linear recursion with a 24-step cycle: a linear map of the window forecasts it."""
    rng = np.random.default_rng(seed)
    values = np.zeros(n)
    for t in range(2, n):
        values[t] = 1.6 * values[t - 1] - 0.9 * values[t - 2] + rng.normal(0, 1)
    frame = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=n, freq="h")})
    return frame.assign(y=values + 50)


def test_linear_baseline_is_the_ridge_regression_refitted_on_every_window(tmp_path):
    from rnnlab.estimators.forecaster import _RIDGE_GRID

    df = _ar_series()
    model = Forecaster("gru", horizon=6, window=24, baseline="linear", **TINY).fit(df)
    linear = model.network_.linear
    assert linear is not None and not linear.weight.requires_grad
    chosen = model.metrics_["linear_baseline"]
    assert chosen["penalty"] in _RIDGE_GRID and np.isfinite(chosen["validation_mae"])
    # The same ridge regression computed independently (numpy) on the training and the
    # validation windows as the network sees them, with the chosen penalty.
    data = model._read(df)
    windows = [
        model.transform_.windows(model._model_inputs(data.window_set(split, 24, 6)))
        for split in ("train", "val")
    ]
    x = np.concatenate([w.x[..., 0].numpy() for w in windows]).astype(np.float64)
    y = np.concatenate([w.y[..., 0].numpy() for w in windows]).astype(np.float64)
    xc, yc = x - x.mean(0), y - y.mean(0)
    gram = xc.T @ xc
    penalty = chosen["penalty"] * np.trace(gram) / gram.shape[0]
    weights = np.linalg.solve(gram + penalty * np.eye(gram.shape[0]), xc.T @ yc)
    np.testing.assert_allclose(linear.weight.numpy().T, weights, rtol=1e-3, atol=1e-4)
    bias = y.mean(0) - x.mean(0) @ weights
    np.testing.assert_allclose(linear.bias.numpy(), bias, rtol=1e-3, atol=1e-4)
    # A linear recursion: the linear baseline beats naive by far on the validation windows.
    mase = model.metrics_["validation"]["mase"]
    assert mase[model._own_baseline()] < 0.5 * mase["naive"]
    assert "a linear map of the window" in model.summary_line()
    model.save(tmp_path / "m")
    pd.testing.assert_frame_equal(load(tmp_path / "m").predict(df), model.predict(df))


def test_fallback_of_the_linear_baseline_forecasts_the_linear_map():
    df = _ar_series()
    model = Forecaster("gru", horizon=6, window=24, baseline="linear", **TINY).fit(df)
    model.forecast_from_ = "linear"
    point = model.predict(df)["y"].to_numpy()
    # By hand: the window on its own scale, the seasonal naive forecast, the linear map.
    x = torch.from_numpy(model.scaler_.transform(df[["y"]].to_numpy()[-24:], 0)[None].astype("f4"))
    encoded = model.transform_.encode(x, None)
    expected = model.transform_.decode(model.network_.linear_forecast(encoded.x), encoded)
    expected = model.scaler_.inverse_targets(expected, np.array([0]))[0, :, 0]
    np.testing.assert_allclose(point, expected, rtol=1e-4)


def test_cli_fit_with_the_linear_baseline_and_seasonal_inputs(tmp_path):
    values = _two_seasons(24 * 7 * 4)
    path = tmp_path / "hourly.csv"
    frame = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=len(values), freq="h")})
    frame.assign(y=values).to_csv(path, index=False)
    args = ["fit", "forecast", str(path), "--time", "ds", "--target", "y", "--horizon", "12"]
    extra = ["--window", "168", "--epochs", "1", "--hidden-size", "8"]
    assert (
        main(
            [
                *args,
                *extra,
                "--baseline",
                "linear",
                "--seasonal-inputs",
                "--out",
                str(tmp_path / "m"),
            ]
        )
        == 0
    )
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["estimator"]["baseline"] == "linear"
    assert config["network"]["config"]["linear_window"] == 168
    assert config["state"]["lag_inputs"] == [1, 24]
    assert config["state"]["forecast_from"] in ("network", "seasonal", "linear")
    with pytest.raises(SystemExit):  # argparse names the choices
        main([*args, *extra, "--baseline", "ridge", "--out", str(tmp_path / "bad")])
    assert not (tmp_path / "bad").exists()


def test_auto_baseline_adds_the_linear_map_only_where_there_is_a_season():
    values = _two_seasons(24 * 7 * 4)
    hourly = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=len(values), freq="h")})
    seasonal = Forecaster("gru", horizon=12, window=168, **TINY).fit(hourly.assign(y=values))
    assert seasonal.baseline == "auto" and seasonal.transform_.season == 168
    assert seasonal.network_.config.linear_window == 168
    walk = 50 + np.cumsum(np.random.default_rng(3).normal(size=300))
    daily = pd.DataFrame({"ds": pd.date_range("2021-01-01", periods=300), "y": walk})
    plain = Forecaster("gru", horizon=5, window=14, **TINY).fit(daily)
    assert plain.transform_.season == 1 and plain.network_.linear is None


def test_linear_baseline_reads_and_fits_at_most_its_limits(monkeypatch):
    import rnnlab.estimators.forecaster as forecaster

    monkeypatch.setattr(forecaster, "_LINEAR_MAX_INPUTS", 10)
    monkeypatch.setattr(forecaster, "_RIDGE_MAX_WINDOWS", 50)
    seen = []
    solutions = forecaster._ridge_solutions

    def counting(x, y):
        seen.append(tuple(x.shape))
        return solutions(x, y)

    monkeypatch.setattr(forecaster, "_ridge_solutions", counting)
    df = _ar_series()
    model = Forecaster("gru", horizon=6, window=24, baseline="linear", **TINY).fit(df)
    assert model.network_.config.linear_window == 10
    assert seen == [(50, 10), (50, 10)]  # chosen on train, refitted on train + validation
    assert np.isfinite(model.predict(df)["y"]).all()


def test_arima_takes_the_season_out_with_stl_and_says_so():
    t = np.arange(24 * 30)
    rng = np.random.default_rng(0)
    values = 10 + 3 * np.sin(2 * np.pi * t / 24) + np.cumsum(rng.normal(0, 0.05, t.size))
    history, future = values[:-24], values[-24:]
    seasonal = AutoARIMA(max_p=1, max_q=1, season_length=24).fit(history)
    plain = AutoARIMA(max_p=1, max_q=1).fit(history)
    assert seasonal.label == "arima (STL season 24, p,q ≤ 1, last 500 points)"
    assert plain.label == "arima (non-seasonal, p,q ≤ 1, last 500 points)"
    assert seasonal.seasonal_.shape == (24,) and seasonal.fallback_ is None
    seasonal_error = np.abs(seasonal.predict(24) - future).mean()
    assert seasonal_error < 0.5 * np.abs(plain.predict(24) - future).mean()
    assert seasonal_error < 0.5  # the season's amplitude is 3
    # At least three seasons are kept; shorter than two seasons: fitted without the season.
    assert AutoARIMA(season_length=336)._history == 1008
    short = AutoARIMA(max_p=1, max_q=1, season_length=24).fit(values[:40])
    assert short.seasonal_ is None and short.predict(5).shape == (5,)


def test_linear_baseline_on_a_flat_series_forecasts_the_level():
    # Flat windows give a zero Gram matrix: the ridge map must be zero, not NaN.
    flat = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=400, freq="h"), "y": 5.0})
    model = Forecaster("gru", horizon=12, window=48, baseline="linear", **TINY).fit(flat)
    assert torch.isfinite(model.network_.linear.weight).all()
    np.testing.assert_allclose(model.predict(flat)["y"], 5.0, rtol=1e-5)


def test_model_files_from_before_the_linear_baseline_load_and_predict_the_same(tmp_path):
    walk = 50 + np.cumsum(np.random.default_rng(3).normal(size=200))
    df = pd.DataFrame({"ds": pd.date_range("2021-01-01", periods=200), "y": walk})
    settings = {**TINY, "epochs": 1, "lr": 1e-12}  # falls back to its baseline
    model = Forecaster("gru", horizon=5, window=10, baseline="seasonal", **settings).fit(df)
    assert model.forecast_from_ == "seasonal"
    path = model.save(tmp_path / "old")
    config = json.loads((path / "config.json").read_text())
    # As written before: no seasonal inputs, no linear component, a boolean fallback.
    del config["estimator"]["seasonal_inputs"], config["network"]["config"]["linear_window"]
    del config["state"]["lag_inputs"], config["state"]["forecast_from"]
    config["state"]["baseline_only"] = True
    (path / "config.json").write_text(json.dumps(config))
    old = load(path)
    assert old.forecast_from_ == "seasonal" and old.transform_.lags == ()
    assert old.network_.linear is None
    pd.testing.assert_frame_equal(old.predict(df), model.predict(df))
