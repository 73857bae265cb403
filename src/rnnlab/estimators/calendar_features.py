"""Calendar features: where each time step falls in the day, week and year, as network inputs.

A forecaster with a window shorter than a season cannot see the season in its input; the
calendar tells it. Each feature is a phase in [0, 1) written as a ``sin``/``cos`` pair, so
the last step of a cycle sits next to the first (December next to January, 23:30 next to
00:00) and the values already lie in [-1, 1] (they are not scaled). They are known for the
future, so the forecaster gives them for every input step and every horizon step, computed
from the timestamps alone (the horizon's from the model's frequency): a user never has to
append future rows for them.

``calendar="auto"`` picks the features the frequency implies (:func:`auto_features`);
integer-step times have none.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from rnnlab.data.containers import ForecastWindows
from rnnlab.errors import UserInputError


def _time_of_day(times: pd.DatetimeIndex) -> np.ndarray:
    # Wall-clock components, so a local time keeps its phase across a DST change.
    seconds = times.hour * 3600 + times.minute * 60 + times.second + times.microsecond / 1e6
    return np.asarray(seconds, np.float64) / 86400.0


def _day_of_week(times: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray(times.dayofweek, np.float64) / 7.0  # Monday = 0


def _day_of_year(times: pd.DatetimeIndex) -> np.ndarray:
    days = np.where(times.is_leap_year, 366.0, 365.0)
    return (np.asarray(times.dayofyear, np.float64) - 1.0) / days


def _week_of_year(times: pd.DatetimeIndex) -> np.ndarray:
    # ISO weeks; a year has 52 or 53 of them (the week of 28 December is the last).
    iso = times.isocalendar()
    december = pd.DatetimeIndex(pd.to_datetime(iso["year"].astype(str) + "-12-28"))
    last = december.isocalendar()["week"]
    return (iso["week"].to_numpy(np.float64) - 1.0) / last.to_numpy(np.float64)


def _month_of_year(times: pd.DatetimeIndex) -> np.ndarray:
    return (np.asarray(times.month, np.float64) - 1.0) / 12.0


def _quarter_of_year(times: pd.DatetimeIndex) -> np.ndarray:
    return (np.asarray(times.quarter, np.float64) - 1.0) / 4.0


PHASES: dict[str, Callable[[pd.DatetimeIndex], np.ndarray]] = {
    "time_of_day": _time_of_day,
    "day_of_week": _day_of_week,
    "day_of_year": _day_of_year,
    "week_of_year": _week_of_year,
    "month_of_year": _month_of_year,
    "quarter_of_year": _quarter_of_year,
}
"""Feature name -> phase in [0, 1) of each timestamp."""

CHOICES = ("auto", "none")


def auto_features(freq: str | None) -> list[str]:
    """The calendar positions a pandas frequency implies: sub-daily data get time of day and
    day of week; daily and business-day data day of week and day of year; weekly data (or
    whole weeks of days) week of year; monthly month of year; quarterly quarter of year;
    anything else (yearly, integer steps: ``freq=None``) nothing."""
    if freq is None:
        return []
    offset = pd.tseries.frequencies.to_offset(freq)
    days = None
    if isinstance(offset, pd.offsets.Tick):
        step = pd.Timedelta(offset)
        if step < pd.Timedelta("1D"):
            return ["time_of_day", "day_of_week"]
        days = step // pd.Timedelta("1D")
    elif isinstance(offset, pd.offsets.Day):
        days = offset.n
    if days is not None:
        return ["week_of_year"] if days % 7 == 0 else ["day_of_week", "day_of_year"]
    if isinstance(offset, pd.offsets.BusinessHour | pd.offsets.CustomBusinessHour):
        return ["time_of_day", "day_of_week"]
    if isinstance(offset, pd.offsets.BusinessDay | pd.offsets.CustomBusinessDay):
        return ["day_of_week", "day_of_year"]
    if isinstance(offset, pd.offsets.Week):
        return ["week_of_year"]
    monthly = (
        pd.offsets.MonthBegin,
        pd.offsets.MonthEnd,
        pd.offsets.BusinessMonthBegin,
        pd.offsets.BusinessMonthEnd,
        pd.offsets.CustomBusinessMonthBegin,
        pd.offsets.CustomBusinessMonthEnd,
        pd.offsets.SemiMonthBegin,
        pd.offsets.SemiMonthEnd,
    )
    if isinstance(offset, monthly):
        return ["month_of_year"]
    quarterly = (
        pd.offsets.QuarterBegin,
        pd.offsets.QuarterEnd,
        pd.offsets.BQuarterBegin,
        pd.offsets.BQuarterEnd,
    )
    return ["quarter_of_year"] if isinstance(offset, quarterly) else []


def requested(calendar: str | Sequence[str]) -> list[str] | str:
    """``calendar`` checked: ``"auto"``, ``"none"``, or a list of feature names (a sequence
    or one comma-separated string)."""
    if isinstance(calendar, str):
        if calendar.strip() in CHOICES:
            return calendar.strip()
        names = [n.strip() for n in calendar.split(",") if n.strip()]
    elif isinstance(calendar, Sequence):
        names = [str(n).strip() for n in calendar]
    else:
        names = []
    unknown = [n for n in names if n not in PHASES]
    if not names or unknown:
        raise UserInputError(
            f"calendar must be 'auto', 'none' or names among {', '.join(PHASES)}; got {calendar!r}"
        )
    if len(set(names)) != len(names):
        raise UserInputError(f"calendar names a feature twice: {calendar!r}")
    return names


def resolve(
    calendar: str | Sequence[str], freq: str | None, times: pd.Series, time_column: str
) -> list[str]:
    """The features a forecaster adds for ``calendar`` on data with frequency ``freq`` whose
    training times are ``times``.

    ``"auto"`` gives :func:`auto_features` (nothing for integer-step times). Named features
    must apply: they need datetime times and must vary over ``times``.
    """
    choice = requested(calendar)
    if choice == "none":
        return []
    if choice == "auto":
        return auto_features(freq)
    if freq is None:
        raise UserInputError(
            f"calendar features {', '.join(choice)} need datetime times; the time column "
            f"{time_column!r} holds plain numbers"
        )
    index = pd.DatetimeIndex(times)
    constant = [n for n in choice if np.ptp(PHASES[n](index)) == 0]
    if constant:
        raise UserInputError(
            f"calendar feature(s) {', '.join(constant)} take one value at every time of the "
            f"data (frequency {freq!r}), so they tell the network nothing; the frequency "
            f"implies {', '.join(auto_features(freq)) or 'none'}"
        )
    return choice


def column_names(features: Sequence[str]) -> list[str]:
    """Input column names, two per feature: ``time_of_day_sin``, ``time_of_day_cos``, …"""
    return [f"{name}_{part}" for name in features for part in ("sin", "cos")]


def values(times: pd.DatetimeIndex | np.ndarray | pd.Series, features: Sequence[str]) -> np.ndarray:
    """Calendar inputs of ``times``: float64 ``(len(times), 2 · len(features))``, the sine
    and cosine of each feature's phase, in the order of :func:`column_names`."""
    if not features:
        return np.zeros((len(times), 0))
    index = pd.DatetimeIndex(times)
    columns = []
    for name in features:
        angle = 2 * np.pi * PHASES[name](index)
        columns += [np.sin(angle), np.cos(angle)]
    return np.stack(columns, axis=-1)


def window_times(
    starts: pd.DatetimeIndex | np.ndarray, freq: str, window: int, horizon: int
) -> pd.DatetimeIndex:
    """Timestamps of every input and horizon step of windows whose first forecast step is at
    ``starts`` (N,), on the grid of ``freq``: ``(N · (window + horizon),)``, window by window."""
    offset = pd.tseries.frequencies.to_offset(freq)
    first = pd.DatetimeIndex(starts)
    steps = [first + k * offset for k in range(-window, horizon)]
    flat = steps[0].append(steps[1:])  # step-major
    order = np.arange(len(flat)).reshape(window + horizon, len(first)).T.reshape(-1)
    return flat[order]


def with_calendar(
    windows: ForecastWindows, features: Sequence[str], freq: str | None
) -> ForecastWindows:
    """``windows`` with the calendar inputs appended to ``x`` (input steps) and to
    ``future`` (horizon steps); unchanged without features."""
    if not features:
        return windows
    if freq is None:
        raise UserInputError("calendar features need datetime times with a frequency")
    window, horizon = windows.x.shape[1], windows.y.shape[1]
    # Windows of several series often share start times: compute each start once.
    codes, uniques = pd.factorize(pd.DatetimeIndex(windows.start))
    table = values(window_times(uniques, freq, window, horizon), features)
    table = table.reshape(len(uniques), window + horizon, -1)[codes]  # (N, W + H, 2k)
    table = torch.from_numpy(table.astype(np.float32))
    future = table[:, window:]
    return ForecastWindows(
        torch.cat([windows.x, table[:, :window]], -1),
        windows.y,
        future if windows.future is None else torch.cat([windows.future, future], -1),
        windows.series,
        windows.start,
    )
