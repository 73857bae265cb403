"""Small frames for the your-data tests (a uniquely named module: conftest.py is not importable
when several test folders have one)."""

import numpy as np
import pandas as pd


def forecast_frame(n: int = 90, series: tuple[str, ...] = ("a", "b"), seed: int = 0):
    """Daily series with a weekly cycle, long format (unique_id, ds, y, temp)."""
    rng = np.random.default_rng(seed)
    frames = []
    for k, sid in enumerate(series):
        t = np.arange(n)
        frames.append(
            pd.DataFrame(
                {
                    "unique_id": sid,
                    "ds": pd.date_range("2021-01-01", periods=n, freq="D"),
                    "y": 10 + (k + 1) * np.sin(2 * np.pi * t / 7) + rng.normal(0, 0.1, n),
                    "temp": rng.normal(size=n),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def classification_frame(n_seq: int = 36, seed: int = 0):
    """Three classes of variable-length 2-channel sequences, long format."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_seq):
        label = s % 3
        for t in range(int(rng.integers(5, 10))):
            rows.append(
                {
                    "sid": f"s{s:02d}",
                    "t": t,
                    "a": np.sin(t * (label + 1) / 2) + rng.normal(0, 0.1),
                    "b": label + rng.normal(0, 0.2),
                    "label": "xyz"[label],
                }
            )
    return pd.DataFrame(rows)
