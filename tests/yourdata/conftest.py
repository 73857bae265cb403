"""Small CSV files for the your-data tests (written per test into tmp_path)."""

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
