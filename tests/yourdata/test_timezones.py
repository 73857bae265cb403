"""Local clock times with daylight-saving time: ``timezone=`` / ``--tz`` on the forecasting
loaders, the Forecaster and the CLI, and the hint given without it."""

import json

import numpy as np
import pandas as pd
import pytest

from rnnlab.cli import main
from rnnlab.data.user import load_forecast_csv, read_forecast_rows
from rnnlab.errors import UserInputError
from rnnlab.estimators import Forecaster, load

TINY = ["--hidden-size", "4", "--epochs", "1", "--device", "cpu"]

# (zone, first hour, hours): 48 hours around each clock change of 2024.
CHANGES = {
    "Berlin spring": ("Europe/Berlin", "2024-03-30 00:00", 48),
    "Berlin autumn": ("Europe/Berlin", "2024-10-26 00:00", 48),
    "New York spring": ("America/New_York", "2024-03-09 00:00", 48),
    "New York autumn": ("America/New_York", "2024-11-02 00:00", 48),
}


def _clock(zone: str, start: str, hours: int) -> pd.Series:
    """``hours`` consecutive hours from ``start`` as a clock in ``zone`` shows them (naive
    text: the skipped hour absent, the repeated one twice)."""
    times = pd.date_range(start, periods=hours, freq="h", tz=zone)
    return pd.Series(times.tz_localize(None).astype(str))


def _write(path, times: pd.Series, **columns) -> str:
    noise = np.random.default_rng(0).normal(0, 0.1, len(times))
    values = np.sin(np.arange(len(times)) * 2 * np.pi / 24) + 10 + noise
    pd.DataFrame({"ds": times, **columns, "y": values}).to_csv(path, index=False)
    return path


def _all_rows(data) -> pd.DataFrame:
    return pd.concat([data.train, data.val, data.test], ignore_index=True)


@pytest.mark.parametrize("change", list(CHANGES))
def test_clock_changes_read_in_their_zone_are_one_hourly_grid(change, tmp_path):
    zone, start, hours = CHANGES[change]
    clock = _clock(zone, start, hours)
    # The file really holds a clock change: its naive times step by 1 h and 2 h (or 0 h).
    assert pd.to_datetime(clock).diff().dropna().nunique() == 2
    data = load_forecast_csv(_write(tmp_path / "local.csv", clock), timezone=zone)
    times = _all_rows(data)["ds"]
    assert len(times) == hours and data.freq == "h" and data.season_length == 24
    assert str(times.dt.tz) == zone
    assert (times.diff().dropna() == pd.Timedelta("1h")).all()
    assert times.iloc[0] == pd.Timestamp(start, tz=zone)
    assert f"(freq h, local times in {zone})" in data.summary
    assert "inserted 0 missing time steps" in data.summary


def test_without_a_zone_the_clock_changes_are_refused_with_a_hint(tmp_path):
    hint = "if these are local clock times with daylight-saving time, pass the time zone"
    autumn = _write(tmp_path / "autumn.csv", _clock(*CHANGES["Berlin autumn"]))
    with pytest.raises(UserInputError, match="duplicate timestamps") as repeated:
        load_forecast_csv(autumn)
    message = str(repeated.value)
    assert "2024-10-27 02:00:00 is also at row 27" in message and "--series-id" in message
    assert message.endswith(f"{hint} (--tz / timezone=, e.g. Europe/Berlin)")
    assert "\n" not in message
    spring = _write(tmp_path / "spring.csv", _clock(*CHANGES["Berlin spring"]))
    with pytest.raises(UserInputError, match="2024-03-31 02:00:00 is missing") as gap:
        load_forecast_csv(spring)
    assert hint in str(gap.value)
    # A gap or a repeat elsewhere in the day, or in daily data, keeps its message as it was.
    hourly = pd.Series(pd.date_range("2024-01-01", periods=48, freq="h").astype(str))
    with pytest.raises(UserInputError, match="gap in the time index") as noon:
        load_forecast_csv(_write(tmp_path / "noon.csv", hourly.drop(12)))
    assert hint not in str(noon.value)
    daily = pd.Series(pd.date_range("2024-01-01", periods=20, freq="D").astype(str))
    with pytest.raises(UserInputError, match="duplicate timestamps") as midnight:
        load_forecast_csv(_write(tmp_path / "daily.csv", pd.concat([daily, daily[:1]])))
    assert hint not in str(midnight.value)


def test_an_unknown_zone_names_the_file_and_the_closest_zone(tmp_path):
    path = _write(tmp_path / "local.csv", _clock(*CHANGES["Berlin autumn"]))
    with pytest.raises(UserInputError) as err:
        load_forecast_csv(path, timezone="Europe/Berln")
    assert str(err.value).startswith(f"{path}, column 'ds': unknown time zone 'Europe/Berln'")
    assert "Did you mean 'Europe/Berlin'?" in str(err.value)
    with pytest.raises(UserInputError, match="unknown time zone 'Mars/Olympus'"):
        read_forecast_rows(path, target="y", time_column="ds", timezone="Mars/Olympus")


def test_a_repeat_the_row_order_cannot_settle_and_a_skipped_time_are_errors(tmp_path):
    clock = _clock(*CHANGES["Berlin autumn"])
    once = clock.drop(clock.index[clock.duplicated()])  # 02:00 only once: which one?
    with pytest.raises(UserInputError) as repeat:
        load_forecast_csv(_write(tmp_path / "once.csv", once), timezone="Europe/Berlin")
    message = str(repeat.value)
    assert message.startswith(f"{tmp_path / 'once.csv'}, row 27 (line 28), column 'ds': ")
    assert "2024-10-27 02:00:00 occurs twice in Europe/Berlin" in message
    assert "(2024-10-27 02:00:00+02:00 or 2024-10-27 02:00:00+01:00)" in message
    # Rows out of time order elsewhere in the series leave the repeat unsettled too.
    stray = _write(tmp_path / "stray.csv", clock.iloc[[1, 0, *range(2, 48)]])
    with pytest.raises(
        UserInputError, match=r"row 27 \(line 28\), column 'ds': 2024-10-27 02:00:00 occurs twice"
    ):
        load_forecast_csv(stray, timezone="Europe/Berlin")
    # A clock that never changed (UTC, say) read as Berlin time holds 02:00 on March 31.
    utc = pd.Series(pd.date_range("2024-03-30", periods=48, freq="h").astype(str))
    with pytest.raises(UserInputError) as skipped:
        load_forecast_csv(_write(tmp_path / "utc.csv", utc), timezone="Europe/Berlin")
    assert "row 27 (line 28), column 'ds': 2024-03-31 02:00:00 does not exist in Europe/Berlin" in (
        str(skipped.value)
    )
    with pytest.raises(UserInputError, match="holds plain numbers"):
        load_forecast_csv(_write(tmp_path / "steps.csv", pd.Series(range(48))), timezone="UTC")


def test_a_series_in_reverse_time_order_keeps_its_repeated_hours_apart():
    clock = _clock(*CHANGES["Berlin autumn"])
    newest_first = pd.DataFrame({"ds": clock, "y": np.arange(48.0)}).iloc[::-1]
    read = _all_rows(load_forecast_csv(newest_first, timezone="Europe/Berlin"))
    assert read["y"].tolist() == list(range(48))  # 02:00+02:00 is y=26, 02:00+01:00 y=27
    assert (read["ds"].diff().dropna() == pd.Timedelta("1h")).all()


def test_times_with_utc_offsets_are_converted_to_the_zone(tmp_path):
    times = pd.date_range("2024-10-26", periods=48, freq="h", tz="Europe/Berlin")
    data = load_forecast_csv(
        _write(tmp_path / "offsets.csv", pd.Series(times.astype(str))), timezone="Asia/Tokyo"
    )
    read = _all_rows(data)["ds"]
    assert str(read.dt.tz) == "Asia/Tokyo" and (read.to_numpy() == times.to_numpy()).all()


def test_long_format_with_interleaved_series_is_localized_per_series(tmp_path):
    clock = _clock(*CHANGES["Berlin autumn"])
    # Rows interleaved time by time (a 00:00, b 00:00, a 01:00, ...); b starts an hour later.
    a = pd.DataFrame({"unique_id": "a", "ds": clock, "y": np.arange(48.0)})
    b = pd.DataFrame({"unique_id": "b", "ds": clock[1:], "y": -np.arange(1.0, 48.0)})
    rows = pd.concat([a, b.set_axis(range(47))]).sort_index(kind="stable")
    assert list(rows["unique_id"][:4]) == ["a", "b", "a", "b"]
    rows.to_csv(tmp_path / "long.csv", index=False)
    data = load_forecast_csv(tmp_path / "long.csv", timezone="Europe/Berlin")
    everything = _all_rows(data)
    for sid, length in (("a", 48), ("b", 47)):
        part = everything[everything["unique_id"] == sid]
        assert len(part) == length and (part["ds"].diff().dropna() == pd.Timedelta("1h")).all()
        # Each value stays with its own hour: y counts the rows of the series in time order.
        assert (np.abs(part["y"].to_numpy()) == np.arange(48 - length, 48)).all()


def test_fit_predict_writes_local_times_with_offsets_across_the_change(tmp_path, capsys):
    # Berlin hours up to 01:00 (+02:00) on 2024-10-27: the next three are 02:00 twice, 03:00.
    clock = _clock("Europe/Berlin", "2024-10-21 00:00", 146)
    assert clock.iloc[-1] == "2024-10-27 01:00:00"
    csv = _write(tmp_path / "local.csv", clock)
    model, out = tmp_path / "model", tmp_path / "forecast.csv"
    fit = ["fit", "forecast", str(csv), "--target", "y", "--time", "ds", "--tz", "Europe/Berlin"]
    assert main([*fit, "--horizon", "3", "--window", "24", *TINY, "--out", str(model)]) == 0
    config = json.loads((model / "config.json").read_text())
    assert config["estimator"]["timezone"] == "Europe/Berlin"
    plot = tmp_path / "forecast.png"
    assert main(["predict", str(model), str(csv), "--out", str(out), "--plot", str(plot)]) == 0
    assert pd.read_csv(out)["ds"].tolist() == [
        "2024-10-27 02:00:00+02:00",
        "2024-10-27 02:00:00+01:00",
        "2024-10-27 03:00:00+01:00",
    ]
    assert plot.stat().st_size > 1000
    assert main(["evaluate", str(model), str(csv), "--folds", "1", "--no-refit"]) == 0

    # A model file from before the option (no timezone in its config) loads and reads times
    # as written; --tz on predict reads them in a zone all the same.
    del config["estimator"]["timezone"]
    (model / "config.json").write_text(json.dumps(config))
    assert load(model).timezone is None
    later = _write(tmp_path / "later.csv", _clock("Europe/Berlin", "2024-10-21 00:00", 152))
    capsys.readouterr()
    assert main(["predict", str(model), str(later), "--out", str(out)]) == 2
    assert "pass the time zone (--tz" in capsys.readouterr().err
    assert (
        main(["predict", str(model), str(later), "--out", str(out), "--tz", "Europe/Berlin"]) == 0
    )
    assert pd.read_csv(out)["ds"].iloc[0] == "2024-10-27 07:00:00+01:00"


def test_forecaster_keeps_its_zone_through_save_and_load(tmp_path):
    clock = _clock("America/New_York", "2024-10-30 00:00", 97)  # up to 2024-11-03 00:00
    frame = pd.read_csv(_write(tmp_path / "ny.csv", clock))
    settings = {"hidden_size": 4, "epochs": 1, "device": "cpu"}
    model = Forecaster(horizon=2, window=24, timezone="America/New_York", **settings).fit(frame)
    forecast = model.predict(frame)
    assert [str(t) for t in forecast["ds"]] == [
        "2024-11-03 01:00:00-04:00",
        "2024-11-03 01:00:00-05:00",
    ]
    model.save(tmp_path / "m")
    again = load(tmp_path / "m")
    assert again.timezone == "America/New_York"
    pd.testing.assert_frame_equal(again.predict(frame), forecast)
