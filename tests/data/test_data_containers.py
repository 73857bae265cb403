"""Containers: batching, sliding windows, scaling fitted on train."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from rnnlab.data.containers import (
    ForecastData,
    LanguageModelData,
    MusicData,
    SequenceSet,
    pad_sequences,
)
from rnnlab.errors import UserInputError


def test_sequence_set_batches_cover_everything_once_with_trimmed_padding():
    seqs = [torch.full((n, 2), float(i)) for i, n in enumerate([3, 7, 1, 5, 2])]
    x, lengths = pad_sequences(seqs)
    data = SequenceSet(x, lengths, torch.arange(5))
    seen = []
    for b in data.batches(2, torch.Generator().manual_seed(0)):
        assert b.x.shape[1] == int(b.lengths.max())
        for row, n, label in zip(b.x, b.lengths, b.y, strict=True):
            assert (row[:n] == float(label)).all() and (row[n:] == 0).all()
        seen += b.y.tolist()
    assert sorted(seen) == [0, 1, 2, 3, 4]
    assert [b.y.tolist() for b in data.batches(2)] == [[0, 1], [2, 3], [4]]


def test_language_model_batches_shift_and_cover_each_target_once():
    lm = LanguageModelData(torch.arange(2, 23), torch.arange(5), torch.arange(5), list("ab"))
    targets = []
    for b in lm.batches("train", batch_size=2, seq_len=4, generator=torch.Generator()):
        assert torch.equal(b.y, b.x + 1)
        targets += b.y.flatten().tolist()
    assert sorted(targets) == list(range(3, 23))
    with pytest.raises(UserInputError, match="fewer than seq_len"):
        next(lm.batches("val", 2, seq_len=10))


def test_music_batches_predict_next_frame():
    rolls = [torch.eye(4)[:3], torch.eye(4)]
    music = MusicData(rolls, [], [], pitch_range=(60, 63))
    b = next(music.batches("train", 2))
    assert torch.equal(b.lengths, torch.tensor([2, 3]))
    assert torch.equal(b.x[1], torch.eye(4)[:3]) and torch.equal(b.y[1], torch.eye(4)[1:])
    assert music.num_pitches == 4


def _frame(n: int, series: str | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "time": pd.date_range("2020-01-01", periods=n, freq="D"),
            "y": np.arange(n, dtype=float),
            "future": np.arange(n, dtype=float) * 10,
        }
    )
    if series is not None:
        frame.insert(0, "sid", series)
    return frame


def test_forecast_windows_values_and_scaling():
    frame = _frame(40)
    data = ForecastData(
        frame[:30], frame[30:35], frame[35:], ["y"], future_covariate_columns=["future"]
    )
    train_mean, train_std = np.arange(30).mean(), np.arange(30).std()
    ws = data.window_set("train", window=4, horizon=2)
    assert ws.x.shape == (25, 4, 2) and ws.y.shape == (25, 2, 1) and ws.future.shape == (25, 2, 1)
    original = ws.x[..., 0].double() * train_std + train_mean
    torch.testing.assert_close(original[0], torch.arange(4, dtype=torch.float64), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        torch.from_numpy(data.scaler.inverse_targets(ws.y, ws.series))[:, :, 0],
        torch.arange(25, dtype=torch.float64)[:, None] + torch.tensor([4.0, 5.0]),
        atol=1e-4,
        rtol=0,
    )
    # Future covariates over the horizon are those of the target steps (future = 10 y).
    scale, mean = data.scaler.scale_[0], data.scaler.mean_[0]
    future = ws.future[..., 0].double() * scale[1] + mean[1]
    target = ws.y[..., 0].double() * scale[0] + mean[0]
    torch.testing.assert_close(future, 10 * target, atol=1e-3, rtol=0)
    # Validation: inputs reach back into train, every validation step is a target once.
    val = data.window_set("val", window=4, horizon=1)
    starts = val.start.astype("datetime64[D]")
    assert list(starts) == list(frame["time"][30:35].to_numpy().astype("datetime64[D]"))
    first_target = data.scaler.inverse_targets(val.y[:1], val.series[:1])
    assert first_target.item() == pytest.approx(30.0, abs=1e-4)
    with pytest.raises(UserInputError, match="too short"):
        data.windows("test", window=4, horizon=6)


def test_forecast_windows_never_cross_series():
    frame = pd.concat([_frame(20, "a"), _frame(20, "b").assign(y=lambda f: f.y + 100)])
    parts = [g for _, g in frame.groupby("sid")]
    split = [pd.concat([p[a:b] for p in parts]) for a, b in [(0, 14), (14, 17), (17, 20)]]
    data = ForecastData(*split, ["y"], series_column="sid")
    assert data.series_ids == ["a", "b"]
    ws = data.window_set("test", window=5, horizon=1)
    real = data.scaler.inverse_targets(ws.y, ws.series)[:, 0, 0]
    assert list(real) == pytest.approx([17, 18, 19, 117, 118, 119], abs=1e-3)
    # Per-series scaling fitted on each series' train part.
    assert data.scaler.mean_[:, 0] == pytest.approx([6.5, 106.5])
