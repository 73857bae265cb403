"""Prediction intervals calibrated by conformalized quantile regression (CQR): the conformal
quantile on hand-computable inputs, non-crossing, coverage on fresh data of a series with
known noise, the fallback path, and model files with and without the calibration."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from rnnlab.cli import main
from rnnlab.estimators import Forecaster, load
from rnnlab.estimators.intervals import apply_calibration, calibrate, conformal_quantile

TINY = {"hidden_size": 8, "epochs": 2, "device": "cpu", "batch_size": 32}
LEVELS = (0.1, 0.5, 0.9)


def test_conformal_quantile_is_the_corrected_rank():
    scores = np.random.default_rng(0).permutation(np.arange(1.0, 11.0))  # 1 … 10
    # ⌈(10 + 1) · 0.8⌉ = 9: the 9th smallest, not the plain 80 % quantile (8).
    assert conformal_quantile(scores, 0.8) == 9.0
    assert conformal_quantile(scores, 0.5) == 6.0  # ⌈5.5⌉
    assert conformal_quantile(scores[:4], 0.8) == scores[:4].max()  # ⌈4.0⌉ = n: the largest
    assert conformal_quantile(scores[:3], 0.8) == np.inf  # ⌈3.2⌉ = 4 > n: no finite interval
    # 0.8 − 0.2 is 0.6000000000000001 in floating point: (24 + 1) · c must still give 15.
    assert conformal_quantile(np.arange(1.0, 25.0), 0.8 - 0.2) == 15.0
    # Along axis 0, column by column.
    np.testing.assert_array_equal(
        conformal_quantile(np.stack([scores, 10 * scores], axis=1), 0.8), [9.0, 90.0]
    )


def _known_scores(n: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    """Interval (−1, 1) around 0; actuals above it by i/10 at step 0 and 2i/10 at step 1
    (i = 1 … n), so the scores max(lo − y, y − hi) are exactly those distances."""
    forecast = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64).expand(n, 2, 1, 3)
    above = torch.arange(1, n + 1, dtype=torch.float64) / 10
    truth = 1.0 + torch.stack([above, 2 * above], dim=1).unsqueeze(-1)  # (n, 2, 1)
    return forecast, truth


def test_calibration_per_step_pooled_or_none_on_known_scores():
    forecast, truth = _known_scores()
    # 20 windows: per step, the ⌈21 · 0.8⌉ = 17th smallest score of each step.
    per_step = calibrate(forecast, truth, LEVELS)
    assert per_step["method"] == "cqr per step" and per_step["windows"] == 20
    np.testing.assert_allclose(np.asarray(per_step["adjust"])[:, 0, 0], [1.7, 3.4])
    widened = apply_calibration(forecast, LEVELS, per_step)
    np.testing.assert_allclose(widened[0, :, 0, 0], [-2.7, -4.4])
    np.testing.assert_allclose(widened[0, :, 0, 2], [2.7, 4.4])
    torch.testing.assert_close(widened[..., 1], forecast[..., 1])  # the median stays
    # Fewer windows than needed per step, enough window-steps: pooled, the ⌈41 · 0.8⌉ = 33rd
    # smallest of {0.1 … 2.0} ∪ {0.2, 0.4 … 4.0}: 30 values ≤ 2.0, then 2.2, 2.4, 2.6.
    pooled = calibrate(forecast, truth, LEVELS, min_scores=30)
    assert pooled["method"] == "cqr pooled over steps"
    np.testing.assert_allclose(np.asarray(pooled["adjust"])[:, 0, 0], [2.6, 2.6])
    # Too few even pooled: left as they are, and said why.
    none = calibrate(forecast, truth, LEVELS, min_scores=41)
    assert none["method"] is None and "only 20 validation window(s) × 2 step(s)" in none["reason"]
    torch.testing.assert_close(apply_calibration(forecast, LEVELS, none), forecast)
    # Every actual inside by 0.5: the interval is narrowed by 0.5.
    inside = calibrate(forecast, torch.zeros(20, 2, 1, dtype=torch.float64) + 0.5, LEVELS)
    np.testing.assert_allclose(inside["adjust"], -0.5)


def test_a_pair_too_wide_for_the_scores_is_left_and_named():
    forecast, truth = _known_scores()
    levels = (0.01, 0.5, 0.99)  # 98 %: ⌈21 · 0.98⌉ = 21 > 20 scores
    result = calibrate(forecast, truth, levels)
    assert result["method"] == "cqr per step"
    assert result["reason"] == "too few scores for the 0.01–0.99 interval(s), left as they are"
    torch.testing.assert_close(apply_calibration(forecast, levels, result), forecast)


def test_calibrated_quantiles_never_cross_and_keep_the_median():
    rng = np.random.default_rng(1)
    levels = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
    forecast = torch.from_numpy(np.sort(rng.normal(size=(200, 3, 2, 7)), axis=-1))
    # Strong narrowing of every pair, stronger for the inner ones: would cross without care.
    adjust = rng.uniform(-3.0, 1.0, size=(3, 2, 3))
    calibration = {"method": "cqr per step", "adjust": adjust.tolist()}
    out = apply_calibration(forecast, levels, calibration)
    assert bool((out.diff(dim=-1) >= 0).all())
    torch.testing.assert_close(out[..., 3], forecast[..., 3])
    # Levels without a partner (0.3 here) pair nothing: only 0.1–0.9 moves.
    uneven = (0.1, 0.3, 0.5, 0.9)
    moved = apply_calibration(
        forecast[..., :4].sort(dim=-1).values,
        uneven,
        {"method": "cqr per step", "adjust": np.ones((3, 2, 1)).tolist()},
    )
    base = forecast[..., :4].sort(dim=-1).values
    torch.testing.assert_close(moved[..., 1:3], base[..., 1:3])
    torch.testing.assert_close(moved[..., 0], base[..., 0] - 1)
    torch.testing.assert_close(moved[..., 3], base[..., 3] + 1)


def _seasonal(n: int, seed: int, sigma: float = 1.0) -> pd.DataFrame:
    """Daily values with a weekly cycle plus Gaussian noise of standard deviation sigma."""
    t = np.arange(n)
    noise = np.random.default_rng(seed).normal(0.0, sigma, n)
    values = 20 + 3 * np.sin(2 * np.pi * t / 7) + noise
    return pd.DataFrame({"ds": pd.date_range("2020-01-01", periods=n, freq="D"), "y": values})


def _coverage(model: Forecaster, frame: pd.DataFrame, origins: range) -> float:
    """Share of actuals inside the 0.1–0.9 interval forecast from each origin."""
    inside = []
    for origin in origins:
        forecast = model.predict(frame.iloc[:origin])
        truth = frame["y"].to_numpy()[origin : origin + model.horizon]
        inside.append((forecast["y_q0.1"] <= truth) & (truth <= forecast["y_q0.9"]))
    return float(np.mean(np.concatenate(inside)))


def test_calibrated_intervals_cover_80_percent_of_fresh_data():
    # 600 steps to fit (the last 200 validate: 197 windows per step), then 150 fresh
    # non-overlapping forecasts of 4 steps from the same process (600 actuals). The attained
    # coverage varies by about 0.03 around 0.8 with the calibration draw (√(0.16/197)) and the
    # fresh draw together, so ±0.07 fails only for a real miscalibration; seeds are fixed.
    frame = _seasonal(1200, seed=0)
    settings = {"horizon": 4, "window": 14, "val_size": 200, **TINY}
    model = Forecaster("gru", **settings).fit(frame.iloc[:600])
    assert model.intervals_["method"] == "cqr per step" and model.intervals_["windows"] == 197
    origins = range(600, 1200, 4)
    calibrated = _coverage(model, frame, origins)
    assert abs(calibrated - 0.8) < 0.07, calibrated
    # The same network's heads as trained (two epochs from a zero head: far too narrow).
    raw = Forecaster("gru", calibrate_intervals=False, **settings).fit(frame.iloc[:600])
    assert raw.intervals_ == {"method": None, "reason": "calibrate_intervals=False"}
    uncalibrated = _coverage(raw, frame, origins)
    assert uncalibrated < 0.5, uncalibrated
    assert "0.1–0.9 interval calibrated (cqr per step, 197 validation windows)" in (
        model.summary_line()
    )


def test_the_fallback_to_the_baseline_is_calibrated_around_the_baseline():
    walk = 50 + np.cumsum(np.random.default_rng(3).normal(size=200))
    df = pd.DataFrame({"ds": pd.date_range("2021-01-01", periods=200), "y": walk})
    settings = {**TINY, "epochs": 1, "lr": 1e-12}  # learns nothing: ties with its baseline
    model = Forecaster("gru", horizon=5, window=10, **settings).fit(df)
    assert model.forecast_from_ == "seasonal"
    # val_size 15: 11 windows, fewer than 20, but 55 window-steps: pooled over the steps.
    assert model.intervals_["method"] == "cqr pooled over steps"
    forecast = model.predict(df)
    np.testing.assert_allclose(forecast["y"], walk[-1])  # still the naive forecast
    assert (forecast["y_q0.1"] < walk[-1]).all() and (walk[-1] < forecast["y_q0.9"]).all()
    # On its own validation windows the calibrated interval holds at least 80 % of actuals
    # (the ⌈(n + 1) · 0.8⌉-th of n scores), where the network's own quantiles held fewer.
    data = model._read(df)
    val = data.window_set("val", model.window_, model.horizon)

    def share_inside() -> float:
        out = model._forecast_scaled(val.x, val.future)
        return float(((out[..., 0] <= val.y) & (val.y <= out[..., -1])).double().mean())

    assert share_inside() >= 0.8
    model.intervals_ = None
    assert share_inside() < 0.8


def test_too_few_validation_windows_leave_the_intervals_and_say_so():
    df = _seasonal(120, seed=1)
    model = Forecaster("gru", horizon=2, window=14, val_size=6, **TINY).fit(df)
    reason = "only 5 validation window(s) × 2 step(s)"
    assert model.intervals_["method"] is None and reason in model.intervals_["reason"]
    assert f"intervals not calibrated ({reason}" in model.summary_line()


def test_calibration_is_saved_and_old_model_files_load_as_before(tmp_path):
    df = _seasonal(200, seed=2)
    model = Forecaster("gru", horizon=4, window=14, **{**TINY, "epochs": 1}).fit(df)
    assert model.intervals_["method"] == "cqr pooled over steps"  # 9 windows × 4 steps
    path = model.save(tmp_path / "m")
    again = load(path)
    assert again.intervals_ == model.intervals_
    pd.testing.assert_frame_equal(again.predict(df), model.predict(df))
    # A model file written before the calibration has no state.intervals: the network's
    # quantiles as trained, as before, and the summary says so.
    config = json.loads((path / "config.json").read_text())
    del config["state"]["intervals"]
    del config["estimator"]["calibrate_intervals"]
    (path / "config.json").write_text(json.dumps(config))
    old = load(path)
    assert old.intervals_ is None and "intervals as trained" in old.summary_line()
    model.intervals_ = None
    pd.testing.assert_frame_equal(old.predict(df), model.predict(df))


def test_cli_fit_can_keep_the_intervals_as_trained(tmp_path):
    path = tmp_path / "series.csv"
    _seasonal(120, seed=3).to_csv(path, index=False)
    args = ["fit", "forecast", str(path), "--time", "ds", "--target", "y", "--horizon", "4"]
    tiny = ["--window", "14", "--epochs", "1", "--hidden-size", "8"]
    assert main([*args, *tiny, "--no-calibrate-intervals", "--out", str(tmp_path / "m")]) == 0
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["estimator"]["calibrate_intervals"] is False
    assert config["state"]["intervals"]["reason"] == "calibrate_intervals=False"


@pytest.mark.parametrize("value", ["yes", 1])
def test_calibrate_intervals_must_be_a_bool(value):
    from rnnlab.errors import UserInputError

    with pytest.raises(UserInputError, match="calibrate_intervals must be True or False"):
        Forecaster("gru", horizon=4, calibrate_intervals=value, **TINY).fit(_seasonal(60, 0))
