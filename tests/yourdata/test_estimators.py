"""Estimators: fit/predict/save/load round trips on tiny synthetic data."""

import numpy as np
import pandas as pd
import pytest
from yourdata_frames import classification_frame, forecast_frame

from rnnlab.errors import UserInputError
from rnnlab.estimators import Classifier, Forecaster, load
from rnnlab.estimators.base import NotFittedError

TINY = {"hidden_size": 8, "epochs": 2, "device": "cpu", "batch_size": 32}


@pytest.fixture(scope="module")
def two_series_forecaster():
    """A Forecaster fitted on ``forecast_frame()`` (shared: prediction does not change it)."""
    model = Forecaster("gru", horizon=5, window=10, series_id="unique_id", **TINY)
    assert model.fit(forecast_frame()) is model
    return model


def test_forecaster_round_trip_and_tidy_output(two_series_forecaster, tmp_path):
    df = forecast_frame()
    model = two_series_forecaster
    assert model.series_ids_ == ["a", "b"] and model.freq_ == "D"
    forecast = model.predict(df)
    assert list(forecast.columns) == ["unique_id", "ds", "y", "y_q0.1", "y_q0.5", "y_q0.9"]
    assert len(forecast) == 2 * 5  # one row per (series, step)
    last = df.groupby("unique_id")["ds"].max()
    first = forecast.groupby("unique_id")["ds"].min()
    assert (first - last == pd.Timedelta("1D")).all()
    # Quantiles are ordered and the point forecast is the median.
    assert (forecast["y_q0.1"] <= forecast["y_q0.9"]).all()
    np.testing.assert_allclose(forecast["y"], forecast["y_q0.5"])
    model.save(tmp_path / "m")
    again = load(tmp_path / "m")
    assert isinstance(again, Forecaster) and again.get_params() == model.get_params()
    pd.testing.assert_frame_equal(again.predict(df), forecast)


def test_model_directory_naming_the_networks_old_class_still_loads(two_series_forecaster, tmp_path):
    import json

    df = forecast_frame()
    path = two_series_forecaster.save(tmp_path / "m")
    config = json.loads((path / "config.json").read_text())
    assert config["network"]["class"] == "ForecastNet"
    config["network"]["class"] = "Forecaster"  # as written before the rename
    (path / "config.json").write_text(json.dumps(config))
    again = load(path)
    assert type(again.network_).__name__ == "ForecastNet"
    pd.testing.assert_frame_equal(again.predict(df), two_series_forecaster.predict(df))


def test_forecaster_trains_on_everything_before_the_validation_window():
    df = forecast_frame(series=("a",))
    df.loc[df.index[-10:], "y"] += 1000.0  # a level shift inside the validation window
    model = Forecaster("gru", horizon=5, window=10, val_size=15, **TINY).fit(df)
    # The per-series scaler (and the training windows) cover all but the last 15 steps.
    np.testing.assert_allclose(model.scaler_.mean_[0, 0], df["y"].iloc[:-15].mean())
    assert model.metrics_["validation"]["windows"] == 15 - 5 + 1
    # The default validation window is three horizons.
    default = Forecaster("gru", horizon=5, window=10, **TINY).fit(forecast_frame(series=("a",)))
    assert default.metrics_["validation"]["windows"] == 3 * 5 - 5 + 1


def test_forecaster_bad_settings_and_unfitted():
    with pytest.raises(UserInputError, match="horizon must be a positive integer"):
        Forecaster(horizon=0).fit(forecast_frame())
    with pytest.raises(UserInputError, match="window must be a positive integer"):
        Forecaster(window=-3).fit(forecast_frame())
    with pytest.raises(NotFittedError, match="not fitted"):
        Forecaster().predict(forecast_frame())


def test_predict_says_which_columns_or_frequency_differ(two_series_forecaster):
    df = forecast_frame()
    model = two_series_forecaster
    with pytest.raises(UserInputError, match="missing here: y"):
        model.predict(df.rename(columns={"y": "sales"}))
    hourly = df.copy()
    hourly["ds"] = np.tile(pd.date_range("2021-01-01", periods=90, freq="h"), 2)
    with pytest.raises(UserInputError, match=r"frequency 'h'.*trained on frequency 'D'"):
        model.predict(hourly)
    unknown = df.replace({"unique_id": {"b": "c"}})
    with pytest.raises(UserInputError, match="series 'c' was not in the training data"):
        model.predict(unknown)


def test_forecaster_future_covariates_need_future_rows():
    df = forecast_frame(n=60, series=("a",))
    model = Forecaster("lstm", horizon=4, window=8, head="seq2seq", future_covariates=("temp",))
    model.set_params(**TINY).fit(df)
    future = pd.DataFrame(
        {
            "unique_id": "a",
            "ds": pd.date_range(df["ds"].iloc[-1], periods=5, freq="D")[1:],
            "temp": 0.0,
        }
    )
    forecast = model.predict(pd.concat([df, future], ignore_index=True))
    assert list(forecast["ds"]) == list(future["ds"])
    with pytest.raises(UserInputError, match="must end with 4 rows whose target is empty"):
        model.predict(df)


def test_classifier_round_trip(tmp_path):
    df = classification_frame()
    clf = Classifier("gru", sequence_id="sid", time="t", label="label", **TINY)
    assert clf.fit(df) is clf
    assert clf.classes_ == ["x", "y", "z"] and clf.features_ == ["a", "b"]
    labels = clf.predict(df.drop(columns="label"))
    assert len(labels) == df["sid"].nunique() and set(labels) <= {"x", "y", "z"}
    proba = clf.predict_proba(df)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert set(clf.metrics_["test"]) == {"gru", "logistic-regression"}
    clf.save(tmp_path / "c")
    again = load(tmp_path / "c")
    np.testing.assert_allclose(again.predict_proba(df), proba, rtol=1e-6)
    # The baseline survives the JSON round trip exactly.
    x, lengths = np.zeros((1, 3, 2)), np.array([3])
    np.testing.assert_allclose(
        again.baseline_.predict_proba(x, lengths), clf.baseline_.predict_proba(x, lengths)
    )


def test_classifier_scaling_is_train_only(classify_csv):
    from rnnlab.data.user import load_classification_csv

    clf = Classifier("gru", sequence_id="sid", time="t", label="label", **TINY).fit(classify_csv)
    raw = load_classification_csv(
        classify_csv, sequence_column="sid", time_column="t", standardize=False
    )
    train = raw.train
    steps = np.concatenate([train.x[i, :n].numpy() for i, n in enumerate(train.lengths)])
    np.testing.assert_allclose(clf.mean_, steps.mean(axis=0), rtol=1e-6)
    everything = pd.read_csv(classify_csv)[["a", "b"]].to_numpy().mean(axis=0)
    assert not np.allclose(clf.mean_, everything)
    assert len(clf.test_ids_) == len(raw.test)


def test_backtest_refits_on_each_fold_history(monkeypatch):
    from rnnlab.estimators.report import backtest_forecaster

    df = forecast_frame(n=60, series=("a",))
    model = Forecaster("gru", horizon=5, window=10, **{**TINY, "epochs": 1}).fit(df)
    seen = []
    original_fit = Forecaster.fit

    def recording_fit(self, data):
        seen.append(pd.to_datetime(data["ds"]).max())
        return original_fit(self, data)

    monkeypatch.setattr(Forecaster, "fit", recording_fit)
    evaluation = backtest_forecaster(model, df, folds=2, refit=True)
    origins = sorted(evaluation.scores["origin"].unique())
    assert origins == [50, 55]
    # One refit per fold, each on data that ends right before the fold's origin.
    assert seen == [df["ds"].iloc[49], df["ds"].iloc[54]]
    # Every baseline, named with what it is; m=365 is left out (60 daily steps).
    assert set(evaluation.overall.index) == {
        "gru",
        "naive",
        "seasonal-naive m=7",
        "ets (damped trend, season 7)",
        "theta (season 7)",
        "linear (DLinear-style, window 10)",
        "arima (STL season 7, p,q ≤ 1, last 500 points)",
    }
    assert "MASE scaled by the in-sample seasonal naive MAE with m=7" in evaluation.render()
    coverage = next(line for line in evaluation.notes if "quantile interval" in line)
    assert "0.1–0.9 quantile interval (nominal 80%), over 2 (series, fold)" in coverage


def test_fit_reads_a_dataframe_directly_and_names_it_in_errors():
    # Errors point at the user's DataFrame (rows from 1), not at a temporary file.
    bad = forecast_frame().astype({"y": object})
    bad.loc[6, "y"] = "n/a"
    with pytest.raises(UserInputError, match=r"^DataFrame, row 7, column 'y': non-numeric"):
        Forecaster("gru", horizon=5, window=10, series_id="unique_id", **TINY).fit(bad)
    sequences = classification_frame()
    sequences.loc[3, "label"] = "other"
    with pytest.raises(UserInputError, match=r"^DataFrame, row 4, column 'label': label changes"):
        Classifier("gru", sequence_id="sid", time="t", label="label", **TINY).fit(sequences)
