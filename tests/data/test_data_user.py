"""The user's own files: every validation error, fill options, sorting, summaries."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import torch

from rnnlab.data.containers import LanguageModelData, SequenceClassificationData
from rnnlab.data.user import (
    load_classification_arrays,
    load_classification_csv,
    load_forecast_csv,
    load_text,
    read_forecast_rows,
    read_sequence_rows,
    season_length_for,
)
from rnnlab.errors import UserInputError

N = 60


def _series(n: int = N, freq: str = "D") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "time": pd.date_range("2021-01-01", periods=n, freq=freq).astype(str),
            "load": np.arange(n, dtype=float),
            "temp": np.sin(np.arange(n)),
            "holiday": (np.arange(n) % 7 == 0).astype(int),
        }
    )


def _write(frame: pd.DataFrame, path) -> str:
    frame.to_csv(path, index=False)
    return str(path)


def _edit(frame: pd.DataFrame, row: int, column: str, value: object) -> pd.DataFrame:
    frame = frame.astype({column: object})
    frame.loc[row, column] = value
    return frame


# ----------------------------------------------------------------------------- forecasting


def test_single_series_with_covariates(tmp_path, caplog):
    path = _write(_series().sample(frac=1, random_state=0), tmp_path / "s.csv")
    with caplog.at_level(logging.INFO, logger="rnnlab.data.user"):
        data = load_forecast_csv(
            path, target="load", past_covariates=["temp"], future_covariates=["holiday"]
        )
    assert data.freq == "D" and data.season_length == 7
    assert (len(data.train), len(data.val), len(data.test)) == (42, 9, 9)
    assert data.train["load"].tolist() == list(range(42))  # unsorted rows were sorted
    assert data.feature_columns == ["load", "temp", "holiday"]
    assert "read 60 rows" in data.summary and "sorted" in data.summary
    assert "sorted 0 rows" not in data.summary
    assert data.summary in caplog.text
    ws = data.window_set("test", window=7, horizon=3)
    assert ws.x.shape == (7, 7, 3) and ws.future.shape == (7, 3, 1)


def test_long_format_like_neuralforecast_and_parquet(tmp_path):
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat(["b", "a"], 40),
            "ds": np.tile(pd.date_range("2022-01-01", periods=40, freq="30min"), 2),
            "y": np.arange(80, dtype=float),
            "note": "x",
        }
    )
    path = tmp_path / "long.parquet"
    frame.to_parquet(path)
    data = load_forecast_csv(path)
    assert data.series_column == "unique_id" and data.time_column == "ds"
    assert data.target_columns == ["y"] and data.freq == "30min" and data.season_length == 48
    assert data.series_ids == ["a", "b"]
    assert "kept 2 series" in data.summary and "ignored columns ['note']" in data.summary


def test_integer_time_steps(tmp_path):
    frame = pd.DataFrame({"t": np.arange(30) * 5, "value": np.arange(30.0)})
    data = load_forecast_csv(_write(frame, tmp_path / "i.csv"), time_column="t")
    assert data.freq is None and "freq 5" in data.summary


def test_fractional_year_times_with_a_gap(tmp_path):
    years = pd.DataFrame({"time": 1749 + np.arange(40) / 12, "value": np.arange(40.0)})
    path = _write(years.drop(index=[10, 11]), tmp_path / "y.csv")
    with pytest.raises(UserInputError, match=r"row 11 \(line 12\).*2 missing steps"):
        load_forecast_csv(path)
    data = load_forecast_csv(path, fill="interpolate")
    values = pd.concat([data.train, data.val, data.test])
    assert values["value"].tolist() == pytest.approx(list(range(40)))
    assert values["time"].iloc[10] == pytest.approx(1749 + 10 / 12)


def test_semicolon_csv_with_bom(tmp_path):
    text = _series(30).to_csv(index=False, sep=";")
    (tmp_path / "excel.csv").write_bytes(("\ufeff" + text).encode("utf-8"))
    data = load_forecast_csv(tmp_path / "excel.csv", target="load")
    assert data.time_column == "time" and len(data.train) == 22


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(UserInputError, match=r"nope\.csv: file not found"):
        load_forecast_csv(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(UserInputError, match=r"empty\.csv: file is empty"):
        load_forecast_csv(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("time,value\n")
    with pytest.raises(UserInputError, match="header but no data rows"):
        load_forecast_csv(tmp_path / "header.csv")
    (tmp_path / "latin1.csv").write_bytes("time,value\n2021-01-01,caf\xe9\n".encode("latin-1"))
    with pytest.raises(UserInputError, match="not UTF-8"):
        load_forecast_csv(tmp_path / "latin1.csv")
    (tmp_path / "data.xlsx").write_text("x")
    with pytest.raises(UserInputError, match="unsupported file type"):
        load_forecast_csv(tmp_path / "data.xlsx")


def test_missing_and_misspelled_columns(tmp_path):
    path = _write(_series(), tmp_path / "s.csv")
    with pytest.raises(
        UserInputError, match=r"target column 'lod' not found\. Did you mean 'load'"
    ):
        load_forecast_csv(path, target="lod")
    with pytest.raises(UserInputError, match="Did you mean 'holiday'"):
        load_forecast_csv(path, target="load", future_covariates=["Holliday"])
    with pytest.raises(UserInputError, match="cannot tell the target column"):
        load_forecast_csv(path)
    renamed = _write(_series().rename(columns={"time": "tme"}), tmp_path / "r.csv")
    with pytest.raises(UserInputError, match=r"time column 'time' not found\. Did you mean 'tme'"):
        load_forecast_csv(renamed, target="load")


def test_non_numeric_value_names_row_and_column(tmp_path):
    path = _write(_edit(_series(), 4, "load", "12,5kW"), tmp_path / "s.csv")
    with pytest.raises(UserInputError) as err:
        load_forecast_csv(path, target="load")
    assert "s.csv, row 5 (line 6), column 'load': non-numeric value '12,5kW'" in str(err.value)


@pytest.mark.parametrize("bad", [np.nan, "inf", "-inf"])
def test_nan_and_inf_are_errors_by_default(tmp_path, bad):
    path = _write(_edit(_series(), 10, "temp", bad), tmp_path / "s.csv")
    with pytest.raises(UserInputError, match=r"row 11 \(line 12\), column 'temp': missing or inf"):
        load_forecast_csv(path, target="load", past_covariates=["temp"])


@pytest.mark.parametrize(
    ("fill", "expected"), [("ffill", 9.0), ("interpolate", 10.0), ("zero", 0.0)]
)
def test_fill_options(tmp_path, fill, expected):
    path = _write(_edit(_series(), 10, "load", np.nan), tmp_path / "s.csv")
    data = load_forecast_csv(path, target="load", fill=fill)
    assert data.train["load"].iloc[10] == expected
    assert f"filled 1 values ({fill})" in data.summary


def test_duplicate_timestamps_within_a_series(tmp_path):
    frame = _series()
    frame.loc[8, "time"] = frame.loc[7, "time"]
    with pytest.raises(UserInputError) as err:
        load_forecast_csv(_write(frame, tmp_path / "s.csv"), target="load")
    assert "row 9 (line 10), column 'time': duplicate timestamps: 2021-01-08" in str(err.value)
    assert "also at row 8" in str(err.value)


def test_duplicate_timestamps_in_different_series_are_fine(tmp_path):
    frame = pd.concat([_series().assign(series_id=s) for s in "ab"])
    data = load_forecast_csv(_write(frame, tmp_path / "s.csv"), target="load")
    assert data.series_ids == ["a", "b"]


def test_gaps_error_unless_fill(tmp_path):
    frame = _series().drop(index=[20, 21, 22]).reset_index(drop=True)
    path = _write(frame, tmp_path / "s.csv")
    with pytest.raises(UserInputError) as err:
        load_forecast_csv(path, target="load")
    message = str(err.value)
    assert "row 21 (line 22), column 'time': gap in the time index" in message
    assert "2021-01-21 00:00:00 is missing" in message and "3 missing steps" in message
    data = load_forecast_csv(path, target="load", fill="interpolate")
    values = pd.concat([data.train, data.val, data.test])["load"].tolist()
    assert values == pytest.approx(list(range(N)))  # the inserted steps interpolate exactly
    assert "inserted 3 missing time steps" in data.summary


def test_off_grid_timestamp(tmp_path):
    frame = _edit(_series(), 5, "time", "2021-01-06 12:00:00")
    with pytest.raises(UserInputError, match="off the regular D grid"):
        load_forecast_csv(_write(frame, tmp_path / "s.csv"), target="load", freq="D")


def test_series_shorter_than_window_plus_horizon(tmp_path):
    frame = pd.concat([_series().assign(series_id="long"), _series(12).assign(series_id="short")])
    path = _write(frame, tmp_path / "s.csv")
    with pytest.raises(UserInputError, match=r"series 'short' \(12 steps\) is shorter than window"):
        load_forecast_csv(path, target="load", window=10, horizon=5)
    with pytest.raises(UserInputError, match="too short to split"):
        load_forecast_csv(path, target="load", window=8, horizon=2)


TRAINED = dict(
    target="load",
    time_column="time",
    past_covariates=["temp"],
    future_covariates=["holiday"],
    freq="D",
)


def test_read_forecast_rows_matches_the_training_loader(tmp_path, caplog):
    frame = _series().assign(extra="x").sample(frac=1, random_state=1)
    path = _write(frame, tmp_path / "new.csv")
    data = load_forecast_csv(path, **TRAINED)
    with caplog.at_level(logging.INFO, logger="rnnlab.data.user"):
        rows, summary = read_forecast_rows(path, **TRAINED)
    expected = pd.concat([data.train, data.val, data.test], ignore_index=True)[rows.columns]
    pd.testing.assert_frame_equal(rows, expected, check_dtype=False)
    assert summary in caplog.text
    assert "read 60 rows" in summary and "sorted" in summary and "['extra']" in summary
    # A DataFrame gives the same rows; its messages name "DataFrame".
    typed = frame.astype({"time": "datetime64[ns]"})
    pd.testing.assert_frame_equal(
        read_forecast_rows(typed, **TRAINED).frame, rows, check_dtype=False
    )
    with pytest.raises(UserInputError, match=r"DataFrame, row 4, column 'temp'"):
        read_forecast_rows(_edit(_series(), 3, "temp", "n/a"), **TRAINED)


def test_read_forecast_rows_future_rows(tmp_path):
    frame = _series(30)
    frame.loc[27:, ["load", "temp"]] = np.nan  # the horizon: only the calendar is known
    rows, summary = read_forecast_rows(frame, **TRAINED, allow_future_rows=True)
    assert rows["load"].isna().sum() == 3 and "27 observed steps (freq D) and 3 future" in summary
    with pytest.raises(UserInputError, match=r"row 28, column 'load'.*missing or infinite"):
        read_forecast_rows(frame, **TRAINED)
    hole = frame.copy()
    hole.loc[10, "temp"] = np.nan
    with pytest.raises(UserInputError, match="row 11, column 'temp': missing value before"):
        read_forecast_rows(hole, **TRAINED, allow_future_rows=True)
    filled, summary = read_forecast_rows(hole, **TRAINED, allow_future_rows=True, fill="ffill")
    assert filled.loc[10, "temp"] == filled.loc[9, "temp"] and "filled 1 values" in summary
    no_calendar = frame.copy()
    no_calendar.loc[29, "holiday"] = np.nan
    with pytest.raises(UserInputError, match="row 30, column 'holiday'"):
        read_forecast_rows(no_calendar, **TRAINED, allow_future_rows=True)
    with pytest.raises(UserInputError, match="no target value"):
        read_forecast_rows(frame.assign(load=np.nan), **TRAINED, allow_future_rows=True)


def test_read_forecast_rows_checks_against_training(tmp_path):
    with pytest.raises(UserInputError, match=r"trained with column.*missing here: holiday"):
        read_forecast_rows(_series().drop(columns="holiday"), **TRAINED)
    with pytest.raises(
        UserInputError, match="frequency 'h', but the model was trained on frequency 'D'"
    ):
        read_forecast_rows(_series(freq="h"), **TRAINED)
    steps = _series().assign(time=np.arange(N))
    with pytest.raises(UserInputError, match=r"trained on timestamps.*plain numbers"):
        read_forecast_rows(steps, **TRAINED)
    assert len(read_forecast_rows(steps, **{**TRAINED, "freq": None}).frame) == N
    gappy = _series().drop(index=[5, 6])
    with pytest.raises(UserInputError, match="row 6, column 'time': gap in the time index"):
        read_forecast_rows(gappy, **TRAINED)
    filled = read_forecast_rows(gappy, **TRAINED, fill="interpolate").frame
    assert filled["load"].tolist() == list(range(N))
    twice = pd.concat([_series(10), _series(10).tail(1)])
    with pytest.raises(UserInputError, match="duplicate timestamp"):
        read_forecast_rows(twice, **TRAINED)
    many = pd.concat([_series(20).assign(sid=k) for k in "ba"])
    rows = read_forecast_rows(many, **TRAINED, series_column="sid").frame
    assert rows["sid"].tolist() == ["a"] * 20 + ["b"] * 20
    with pytest.raises(UserInputError, match="fill must be one of"):
        read_forecast_rows(many, **TRAINED, fill="mean")


def test_repeated_times_without_a_series_column_suggest_passing_it(tmp_path):
    # Two stores in long format, but the id column has a name the loader does not guess.
    frame = pd.concat([_series(20).assign(store=k) for k in "ab"], ignore_index=True)
    path = _write(frame, tmp_path / "stores.csv")
    with pytest.raises(UserInputError) as err:
        load_forecast_csv(path, target="load")
    message = str(err.value)
    assert "row 21 (line 22), column 'time': duplicate timestamps: 2021-01-01" in message
    assert "also at row 1 (20 repeated rows in all)" in message
    assert "pass --series-id / series_column" in message
    with pytest.raises(UserInputError, match="pass --series-id / series_column"):
        read_forecast_rows(frame, **{**TRAINED, "freq": None})
    assert load_forecast_csv(path, target="load", series_column="store").series_ids == ["a", "b"]


def test_misspelled_column_at_prediction_suggests_the_closest(tmp_path):
    renamed = _series().rename(columns={"load": "Load", "holiday": "holidays"})
    with pytest.raises(UserInputError) as err:
        read_forecast_rows(renamed, **TRAINED)
    assert "missing here: load, holiday. Did you mean 'Load' for 'load', 'holidays' for " in str(
        err.value
    )


def test_loaders_take_a_dataframe(tmp_path):
    frame = _series().sample(frac=1, random_state=2)
    from_file = load_forecast_csv(_write(frame, tmp_path / "s.csv"), target="load")
    from_frame = load_forecast_csv(frame, target="load")
    pd.testing.assert_frame_equal(from_frame.train, from_file.train, check_dtype=False)
    assert from_frame.summary.startswith("DataFrame: read 60 rows; kept 1 series")
    with pytest.raises(UserInputError, match=r"^DataFrame, row 4, column 'load': non-numeric"):
        load_forecast_csv(_edit(_series(), 3, "load", "n/a"), target="load")
    sequences = _sequences()
    from_file = load_classification_csv(_write(sequences, tmp_path / "c.csv"))
    from_frame = load_classification_csv(sequences)
    assert torch.equal(from_frame.train.x, from_file.train.x)
    assert from_frame.summary.startswith("DataFrame: read")
    with pytest.raises(UserInputError, match=r"^DataFrame, row 5, column 'label': label changes"):
        load_classification_csv(_edit(sequences, 4, "label", "run"))


def test_read_sequence_rows_without_a_split(tmp_path, caplog):
    frame = _sequences(3).sample(frac=1, random_state=3).drop(columns="label")
    path = _write(frame, tmp_path / "new.csv")
    with caplog.at_level(logging.INFO, logger="rnnlab.data.user"):
        rows = read_sequence_rows(path, sequence_column="sequence_id", time_column="time")
    assert rows.summary in caplog.text and "read 28 rows; kept 6 sequences, 2 features" in (
        rows.summary
    )
    assert rows.ids == [f"s{i}" for i in range(6)] and rows.labels is None
    assert rows.features == ["a", "b"]
    assert [len(s) for s in rows.sequences] == [3, 4, 5, 6, 7, 3]
    assert all((np.diff(s[:, 1]) == 1).all() for s in rows.sequences)  # sorted by time
    same = read_sequence_rows(frame, sequence_column="sequence_id", time_column="time")
    assert all(np.allclose(x, y) for x, y in zip(same.sequences, rows.sequences, strict=True))
    labelled = read_sequence_rows(
        _sequences(3), sequence_column="sequence_id", time_column="time", label_column="label"
    )
    assert labelled.labels == ["run", "walk"] * 3 and labelled.features == ["a", "b"]


def test_read_sequence_rows_errors():
    frame = _sequences(3)
    spec = dict(sequence_column="sequence_id", time_column="time")
    with pytest.raises(UserInputError, match=r"feature column 'B' not found\. Did you mean 'b'"):
        read_sequence_rows(frame, **spec, features=["a", "B"])
    with pytest.raises(UserInputError, match=r"^DataFrame, row 5, column 'label': label changes"):
        read_sequence_rows(_edit(frame, 4, "label", "run"), **spec, label_column="label")
    with pytest.raises(UserInputError, match=r"^DataFrame, row 2, column 'time': duplicate time"):
        read_sequence_rows(_edit(frame, 1, "time", 0), **spec, label_column="label")
    holed = _edit(frame, 6, "b", np.inf)
    with pytest.raises(UserInputError, match=r"^DataFrame, row 7, column 'b': missing or inf"):
        read_sequence_rows(holed, **spec, label_column="label")
    filled = read_sequence_rows(holed, **spec, label_column="label", fill="ffill")
    assert filled.sequences[1][3, 1] == filled.sequences[1][2, 1]  # row 7 = s1 step 3
    assert "filled 1 values (ffill)" in filled.summary
    with pytest.raises(UserInputError, match="fill must be one of"):
        read_sequence_rows(frame, **spec, fill="mean")


def test_season_length_defaults():
    assert [season_length_for(f) for f in ("h", "30min", "D", "B", "W-SUN", "MS", "QS")] == [
        24,
        48,
        7,
        5,
        52,
        12,
        4,
    ]
    assert season_length_for(None) is None


# -------------------------------------------------------------------------- classification


def _sequences(n_per_class: int = 10) -> pd.DataFrame:
    rows = []
    rng = np.random.default_rng(0)
    for i in range(2 * n_per_class):
        label = "walk" if i % 2 else "run"
        for t in range(3 + i % 5):
            rows.append(
                {
                    "sequence_id": f"s{i}",
                    "time": t,
                    "a": rng.normal(),
                    "b": float(t),
                    "label": label,
                }
            )
    return pd.DataFrame(rows)


def test_classification_long_format(tmp_path, caplog):
    frame = _sequences().sample(frac=1, random_state=1)
    with caplog.at_level(logging.INFO, logger="rnnlab.data.user"):
        data = load_classification_csv(_write(frame, tmp_path / "c.csv"))
    assert isinstance(data, SequenceClassificationData)
    assert data.class_names == ["run", "walk"] and data.input_size == 2
    everything = torch.cat([data.train.lengths, data.val.lengths, data.test.lengths])
    assert sorted(everything.tolist()) == sorted(3 + i % 5 for i in range(20))  # not truncated
    # Sorted by time within each sequence: channel b (= t) increases along each sequence.
    b = data.train.x[0, : data.train.lengths[0], 1]
    assert (b.diff() > 0).all()
    assert "kept 20 sequences (lengths 3–7)" in data.summary and data.summary in caplog.text


def test_classification_errors(tmp_path):
    frame = _sequences()
    path = _write(frame, tmp_path / "c.csv")
    with pytest.raises(
        UserInputError, match=r"label column 'lable' not found\. Did you mean 'label'"
    ):
        load_classification_csv(path, label_column="lable")
    varying = _edit(frame, 4, "label", "run")  # row 5 belongs to sequence s1 (label walk)
    with pytest.raises(UserInputError) as err:
        load_classification_csv(_write(varying, tmp_path / "v.csv"))
    assert "row 5 (line 6), column 'label': label changes within sequence 's1'" in str(err.value)
    one_class = frame.assign(label="run")
    with pytest.raises(UserInputError, match="at least two"):
        load_classification_csv(_write(one_class, tmp_path / "o.csv"))
    text = _edit(frame, 2, "a", "high")
    with pytest.raises(UserInputError, match=r"row 3 \(line 4\), column 'a': non-numeric"):
        load_classification_csv(_write(text, tmp_path / "t.csv"))
    dup = _edit(frame, 1, "time", 0)
    with pytest.raises(UserInputError, match="duplicate time 0 in sequence 's0'"):
        load_classification_csv(_write(dup, tmp_path / "d.csv"))
    missing = _edit(frame, 6, "b", np.nan)
    with pytest.raises(UserInputError, match=r"row 7 \(line 8\), column 'b': missing"):
        load_classification_csv(_write(missing, tmp_path / "m.csv"))
    filled = load_classification_csv(_write(missing, tmp_path / "m.csv"), fill="zero")
    assert "filled 1 values (zero)" in filled.summary


def test_classification_folder_of_arrays(tmp_path):
    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        for i in range(6):
            np.save(tmp_path / label / f"{i}.npy", rng.normal(size=(4 + i, 3)))
    data = load_classification_csv(tmp_path)
    assert data.class_names == ["cat", "dog"] and data.input_size == 3
    assert len(data.train) + len(data.val) + len(data.test) == 12

    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(6):
        np.savez(flat / f"{i}.npz", x=rng.normal(size=(5, 2)), label=np.array(i % 2))
    data = load_classification_arrays(flat)
    assert data.class_names == ["0", "1"] and (len(data.train), len(data.test)) == (2, 2)
    no_val = load_classification_arrays(flat, val_fraction=0.0)
    assert no_val.val.x.shape == (0, 0, 2) and len(no_val.train) == 4
    bad = rng.normal(size=(5, 2))
    bad[3, 1] = np.nan
    np.savez(flat / "9.npz", x=bad, label=np.array(1))
    with pytest.raises(UserInputError, match=r"9.npz, row 4 \(step\), column 1 \(channel\)"):
        load_classification_arrays(flat)
    np.savez(flat / "9.npz", x=rng.normal(size=(5, 3)), label=np.array(1))
    with pytest.raises(UserInputError, match="3 features per step, but earlier files have 2"):
        load_classification_arrays(flat)
    np.savez(flat / "9.npz", x=rng.normal(size=(5, 2)))
    with pytest.raises(UserInputError, match="no label"):
        load_classification_arrays(flat)


# ------------------------------------------------------------------------------------ text


def test_text_file_language_model(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("to be or not to be, that is the question. " * 20)
    data = load_text(path)
    assert isinstance(data, LanguageModelData)
    assert data.decode(data.train[:5]) == "to be"
    assert len(data.train) + len(data.val) + len(data.test) == len(path.read_text())
    (tmp_path / "blank.txt").write_text("  \n")
    with pytest.raises(UserInputError, match="file is empty"):
        load_text(tmp_path / "blank.txt")
    (tmp_path / "latin1.txt").write_bytes("line one\ncaf\xe9".encode("latin-1"))
    with pytest.raises(UserInputError, match="line 2: not valid UTF-8"):
        load_text(tmp_path / "latin1.txt")


def test_text_classification_csv(tmp_path):
    frame = pd.DataFrame(
        {
            "text": ["great movie", "awful plot", "great fun", "awful acting"] * 5,
            "label": ["pos", "neg", "pos", "neg"] * 5,
        }
    )
    data = load_text(_write(frame, tmp_path / "t.csv"))
    assert isinstance(data, SequenceClassificationData) and data.vocab[0] == "<pad>"
    assert data.class_names == ["neg", "pos"] and data.train.x.dtype == torch.int64
    with pytest.raises(UserInputError, match="text column 'txt' not found"):
        load_text(_write(frame, tmp_path / "t.csv"), text_column="txt")
    with pytest.raises(UserInputError, match=r"row 2 \(line 3\), column 'text': missing"):
        load_text(_write(_edit(frame, 1, "text", np.nan), tmp_path / "n.csv"))


def test_true_false_columns_read_as_one_and_zero(tmp_path):
    frame = _series().assign(holiday=lambda f: f["holiday"].astype(bool))  # written True/False
    data = load_forecast_csv(
        _write(frame, tmp_path / "b.csv"), target="load", future_covariates=["holiday"]
    )
    assert data.train["holiday"].tolist() == (np.arange(42) % 7 == 0).astype(float).tolist()


@pytest.mark.parametrize("days", [10, 20])
def test_day_first_dates_read_in_one_format(tmp_path, days):
    # 10 days: every date reads both ways, the regular (daily) grid decides; 20 days: only day
    # first reads 13/01 on, and 05/01 must not become May 1 meanwhile.
    times = pd.date_range("2022-01-01", periods=days, freq="D")
    frame = pd.DataFrame({"time": times.strftime("%d/%m/%Y"), "value": np.arange(days * 1.0)})
    data = load_forecast_csv(_write(frame, tmp_path / "d.csv"), val_fraction=0.2, test_fraction=0.2)
    assert data.freq == "D"
    read = pd.concat([data.train, data.val, data.test])["time"]
    assert list(read) == list(times)


def test_too_few_sequences_for_a_split_is_an_error(tmp_path):
    path = _write(_sequences(n_per_class=2), tmp_path / "few.csv")  # 4 sequences, 2 classes
    with pytest.raises(UserInputError, match=r"4 sequences are too few .* gives 4/0/0"):
        load_classification_csv(path)
    data = load_classification_csv(path, val_fraction=0, test_fraction=0)
    assert (len(data.train.y), len(data.val.y), len(data.test.y)) == (4, 0, 0)
