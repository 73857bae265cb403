"""Small CSV files for the your-data tests (written per test into tmp_path)."""

import functools

import pytest
from yourdata_frames import classification_frame, forecast_frame


@pytest.fixture
def forecast_csv(tmp_path):
    path = tmp_path / "sales.csv"
    forecast_frame().to_csv(path, index=False)
    return path


@pytest.fixture
def classify_csv(tmp_path):
    path = tmp_path / "seqs.csv"
    classification_frame().to_csv(path, index=False)
    return path


@pytest.fixture(autouse=True)
def small_arima_grid(monkeypatch):
    """Backtests in these tests search ARIMA orders p, q ∈ {0, 1} instead of {0, 1, 2}: the
    grid search itself is tested directly (test_baselines_backtest.py imports the class)."""
    import rnnlab.baselines
    from rnnlab.baselines import AutoARIMA

    small = functools.partial(AutoARIMA, max_p=1, max_q=1)
    monkeypatch.setattr(rnnlab.baselines, "AutoARIMA", small)
