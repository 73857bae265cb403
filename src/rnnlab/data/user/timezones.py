"""Local clock times with daylight-saving time: a time zone name read into tz-aware times.

Hourly data written in local time lose an hour when the clocks go forward (02:00 does not
exist in Europe/Berlin on the last Sunday of March) and repeat one when they go back (02:00
occurs twice in October). Localized to their zone (IANA name), such times are one regular
grid: pandas steps sub-daily frequencies in absolute time and daily or longer ones by the
calendar, so both hourly and daily data keep their grid.
"""

from __future__ import annotations

import difflib
import zoneinfo
from contextlib import suppress

import numpy as np
import pandas as pd

from rnnlab.data.user.tables import _Table
from rnnlab.errors import UserInputError

DST_HINT = (
    "; if these are local clock times with daylight-saving time, pass the time zone "
    "(--tz / timezone=, e.g. Europe/Berlin)"
)


def check_timezone(name: str, where: str) -> None:
    """UserInputError unless ``name`` is an IANA time zone (``Europe/Berlin``, ``UTC``); the
    message starts with ``where`` (the file and time column) and suggests the closest name."""
    try:
        zoneinfo.ZoneInfo(name)
        return
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        pass
    known = sorted(zoneinfo.available_timezones())
    lower = {zone.lower(): zone for zone in known}
    close = [lower[name.lower()]] if str(name).lower() in lower else []
    close = close or difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UserInputError(
        f"{where}: unknown time zone {name!r} (--tz / timezone=); give an IANA name such "
        f"as Europe/Berlin, America/New_York or UTC.{hint}"
    )


def localize(
    table: _Table,
    times: pd.Series,
    series: pd.Series | None,
    column: str,
    zone: str,
) -> pd.Series:
    """``times`` (parsed, in file order) as tz-aware times in ``zone``.

    Times with UTC offsets are converted. Naive times are read as local clock times of
    ``zone`` series by series in file order, so a repeated hour (the clocks going back) is
    told apart by the order of its rows: in a series in time order (ascending or
    descending) the earlier is daylight-saving time. A time the clocks skip, or a repeat
    that the order does not settle, is a UserInputError naming the row.
    """
    if not pd.api.types.is_datetime64_any_dtype(times):
        raise UserInputError(
            f"{table.where(column=column)}: a time zone ({zone}) was given but the column "
            "holds plain numbers, not dates and times"
        )
    if times.dt.tz is not None:
        return times.dt.tz_convert(zone)
    groups = [times] if series is None else [g for _, g in times.groupby(series, sort=False)]
    parts = []
    for part in groups:
        label = "" if series is None else f" in series {str(series.loc[part.index[0]])!r}"
        parts.append(_localize_series(table, part, column, zone, label))
    return pd.concat(parts).reindex(times.index)


def _localize_series(
    table: _Table, times: pd.Series, column: str, zone: str, label: str
) -> pd.Series:
    present = times.notna()
    summer = np.ones(len(times), dtype=bool)
    skipped = times.dt.tz_localize(zone, ambiguous=summer, nonexistent="NaT").isna() & present
    if skipped.any():
        row = int(skipped.index[np.flatnonzero(skipped.to_numpy())[0]])
        raise UserInputError(
            f"{table.where(row, column)}: {times.loc[row]}{label} does not exist in {zone} "
            "(the clocks skip it when daylight-saving time starts); check the time zone, or "
            "the row"
        )
    repeated = times.dt.tz_localize(zone, ambiguous="NaT").isna() & present
    if not repeated.any():
        return times.dt.tz_localize(zone)
    # A repeated hour is settled by the order of the rows when the series is in time order
    # in the file (ascending, or descending read backwards): pandas then infers the first
    # rows as summer time. Any other order could silently swap the two hours.
    for order in (times, times.iloc[::-1]):
        with suppress(Exception):  # ValueError in pandas 3, pytz's InvalidTimeError in 2
            local = order.dt.tz_localize(zone, ambiguous="infer")
            if local.is_monotonic_increasing:
                return local.reindex(times.index)
    row = int(repeated.index[np.flatnonzero(repeated.to_numpy())[0]])
    both = [pd.Timestamp(times.loc[row]).tz_localize(zone, ambiguous=dst) for dst in (True, False)]
    raise UserInputError(
        f"{table.where(row, column)}: {times.loc[row]}{label} occurs twice in {zone} (the "
        "clocks go back an hour), and the order of the rows does not say which one this row "
        "is; keep the series' rows in time order with both repeats, or write the times with "
        f"UTC offsets ({both[0]} or {both[1]})"
    )


def dst_hint(times: pd.Series, at: pd.Timestamp) -> str:
    """:data:`DST_HINT` when ``times`` are naive sub-daily datetimes and ``at`` (a missing
    or repeated time) lies between 00:00 and 04:00, where clocks change; else ``""``."""
    if not pd.api.types.is_datetime64_any_dtype(times) or times.dt.tz is not None:
        return ""
    steps = np.diff(np.sort(times.dropna().to_numpy()))
    steps = steps[steps > np.timedelta64(0)]
    sub_daily = steps.size > 0 and steps.min() < np.timedelta64(1, "D")
    return DST_HINT if sub_daily and pd.Timestamp(at).hour < 4 else ""
