"""Containers: batching, sliding windows, scaling fitted on train."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from rnnlab.data.containers import (
    Batch,
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


@pytest.mark.parametrize(("length", "batch_size", "seq_len"), [(23, 2, 4), (50, 3, 5), (9, 4, 7)])
def test_language_model_contiguous_batches_continue_each_row(length, batch_size, seq_len):
    stream = torch.randint(0, 50, (length,), generator=torch.Generator().manual_seed(length))
    lm = LanguageModelData(stream, stream[:3], stream[:3], [str(i) for i in range(50)])
    batches = list(lm.batches("train", batch_size, seq_len, contiguous=True))
    row_len = length // batch_size
    assert all(b.x.shape[0] == batch_size and b.x.shape == b.y.shape for b in batches)
    assert all(b.x.shape[1] == seq_len for b in batches[:-1])
    assert 1 <= batches[-1].x.shape[1] <= seq_len
    for i in range(batch_size):
        inputs = torch.cat([b.x[i] for b in batches])
        targets = torch.cat([b.y[i] for b in batches])
        # Row i over consecutive batches is one contiguous slice of the stream...
        assert torch.equal(inputs, stream[i * row_len : (i + 1) * row_len - 1])
        # ...and its targets are the same slice one token later.
        assert torch.equal(targets, stream[i * row_len + 1 : (i + 1) * row_len])


def test_language_model_contiguous_batches_random_offset_keeps_continuity():
    stream = torch.arange(100)
    lm = LanguageModelData(stream, stream[:3], stream[:3], list("ab"))
    offsets = set()
    for seed in range(20):
        gen = torch.Generator().manual_seed(seed)
        batches = list(lm.batches("train", 4, seq_len=5, generator=gen, contiguous=True))
        rows = torch.cat([b.x for b in batches], dim=1)
        offset = int(rows[0, 0])
        offsets.add(offset)
        row_len = (100 - offset) // 4
        expected = offset + torch.arange(4)[:, None] * row_len + torch.arange(row_len - 1)
        assert torch.equal(rows, expected)
        assert all(torch.equal(b.y, b.x + 1) for b in batches)
    assert offsets <= set(range(5)) and len(offsets) > 1  # boundaries move between epochs
    with pytest.raises(UserInputError, match="too few for 2 contiguous rows"):
        next(lm.batches("val", 2, seq_len=2, contiguous=True))
    with pytest.raises(UserInputError, match="must be ≥ 1"):
        next(lm.batches("train", 0, seq_len=2, contiguous=True))


def test_batch_future_is_moved_and_selected_with_the_rest():
    batch = Batch(
        torch.arange(4.0)[:, None], torch.arange(4.0), future=torch.arange(8.0).view(4, 2, 1)
    )
    moved = batch.to("cpu")
    assert torch.equal(moved.future, batch.future) and moved.lengths is None
    part = batch.select(torch.tensor([3, 1]))
    assert torch.equal(part.future[:, :, 0], torch.tensor([[6.0, 7.0], [2.0, 3.0]]))
    assert torch.equal(part.y, torch.tensor([3.0, 1.0]))
    assert Batch(torch.zeros(2, 1), torch.zeros(2)).future is None


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


def test_forecast_window_batches_carry_future_covariates():
    frame = _frame(40)
    data = ForecastData(
        frame[:30], frame[30:35], frame[35:], ["y"], future_covariate_columns=["future"]
    )
    ws = data.window_set("train", window=4, horizon=2)
    batches = list(ws.batches(10, torch.Generator().manual_seed(0)))
    assert [len(b) for b in batches] == [10, 10, 5]
    for b in batches:
        # The future covariate is 10 × the target, scaled; match each window by its targets.
        index = [int(torch.nonzero((ws.y == y).all(dim=(1, 2)))[0]) for y in b.y]
        assert torch.equal(b.future, ws.future[index]) and torch.equal(b.x, ws.x[index])
    in_order = torch.cat([b.future for b in ws.batches(10)])
    assert torch.equal(in_order, ws.future)
    assert next(data.window_set("train", 4, 2).batches(3)).future.shape == (3, 2, 1)
    without = ForecastData(frame[:30], frame[30:35], frame[35:], ["y"])
    assert next(without.window_set("train", 4, 2).batches(3)).future is None
