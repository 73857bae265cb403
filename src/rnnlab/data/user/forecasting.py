"""Forecasting tables: time index, frequency, gaps, series and covariates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from rnnlab.data.containers import ForecastData
from rnnlab.data.splits import chronological_cut
from rnnlab.data.user.tables import (
    SERIES_CANDIDATES,
    TARGET_CANDIDATES,
    TIME_CANDIDATES,
    PathLike,
    _as_list,
    _check_fill,
    _fill,
    _finish,
    _open,
    _parse_time,
    _require,
    _sort,
    _Table,
    log,
)
from rnnlab.data.user.timezones import check_timezone, dst_hint, localize
from rnnlab.errors import UserInputError


def _infer_freq(times: list[pd.Series]) -> str | None:
    """pandas frequency of datetime series, tolerant of gaps: tries short runs of each.

    Daily data with no Saturday or Sunday in at least two weeks of steps are business days
    (``B``, as pandas and Darts read them), so weekends are not reported as gaps.
    """
    freq = _run_freq(times)
    if freq is not None and _offset(freq) == _offset("D") and _weekdays_only(times):
        return "B"
    return freq


def _run_freq(times: list[pd.Series]) -> str | None:
    for series in times:
        values = pd.DatetimeIndex(series)
        for start in range(0, max(len(values) - 4, 1), max(len(values) // 20, 1)):
            freq = pd.infer_freq(values[start : start + 5]) if len(values) >= 3 else None
            if freq:
                return freq
    return None


def _weekdays_only(times: list[pd.Series]) -> bool:
    """Every time is Monday to Friday and the data span at least two weeks."""
    values = pd.DatetimeIndex(pd.concat(times, ignore_index=True))
    span = values.max() - values.min() if len(values) else pd.Timedelta(0)
    return bool((values.dayofweek < 5).all()) and span >= pd.Timedelta("14D")


def season_length_for(freq: str | None) -> int | None:
    """Default seasonal period for a pandas frequency: a day for sub-daily data, a week for
    daily (5 for business days), a year for weekly, monthly and quarterly data; else None."""
    if freq is None:
        return None
    offset = pd.tseries.frequencies.to_offset(freq)
    if isinstance(offset, pd.offsets.Tick) and not isinstance(offset, pd.offsets.Day):
        per_day = pd.Timedelta("1D") / pd.Timedelta(offset)
        return int(per_day) if per_day >= 2 and per_day == int(per_day) else None
    if offset.n != 1:
        return None
    code = offset.name.upper()
    for prefix, period in (("SM", 24), ("BM", 12), ("M", 12), ("BQ", 4), ("Q", 4), ("W", 52)):
        if code.startswith(prefix):
            return period
    return {"D": 7, "B": 5}.get(code)


def season_lengths_for(freq: str | None) -> list[int]:
    """Every seasonal period a pandas frequency implies, shortest first: a day and a week
    for sub-daily data (48 and 336 for half-hours), a week and a year for daily data (7,
    365), a week for business days (5), a year for weekly, monthly and quarterly data;
    empty when none is known. :func:`season_length_for` is the first of them."""
    first = season_length_for(freq)
    if first is None:
        return []
    offset = pd.tseries.frequencies.to_offset(freq)
    if isinstance(offset, pd.offsets.Tick) and not isinstance(offset, pd.offsets.Day):
        return [first, 7 * first]
    if offset.name.upper() == "D":
        return [7, 365]
    return [first]


def _regularize(
    table: _Table,
    group: pd.DataFrame,
    time_col: str,
    label: str,
    freq: str | None,
    step: float | None,
    fill: str | None,
) -> tuple[pd.DataFrame, int]:
    """Check one sorted series without duplicate times for gaps and off-grid times; with
    ``fill``, insert missing steps.

    Returns the (possibly reindexed) series and how many time steps were inserted.
    """
    times = group[time_col]
    if len(group) < 2 or (freq is None and step is None):
        return group, 0
    spacing = freq or f"{step:g}"
    if freq is not None:
        grid = pd.date_range(times.iloc[0], times.iloc[-1], freq=freq)
        position = grid.get_indexer(times)
        off_grid = position < 0
    else:
        # Numeric times: positions on the grid t0 + k * step, tolerant of float rounding.
        offsets = (times.to_numpy(np.float64) - float(times.iloc[0])) / step
        position = np.rint(offsets).astype(np.int64)
        off_grid = np.abs(offsets - position) > 1e-6
        grid = times.iloc[0] + np.arange(position[-1] + 1) * step
        if pd.api.types.is_integer_dtype(times):
            grid = grid.astype(np.int64)
    if off_grid.any():
        row = int(group.index[np.flatnonzero(off_grid)[0]])
        raise UserInputError(
            f"{table.where(row, time_col)}: time {times.loc[row]}{label} is off the regular "
            f"{spacing} grid starting at {times.iloc[0]}; pass the right freq or resample "
            "the data"
        )
    n_missing = len(grid) - len(group)
    if n_missing == 0:
        return group, 0
    if fill is None:
        first = int(np.setdiff1d(np.arange(len(grid)), position)[0])
        # The first row after the gap (rows are sorted by time within the series).
        row = int(group.index[np.flatnonzero(position > first)[0]])
        raise UserInputError(
            f"{table.where(row, time_col)}: gap in the time index{label}: {grid[first]} "
            f"is missing after {grid[first - 1]} ({n_missing} missing steps in all at "
            f"frequency {spacing}); pass fill='ffill'|'interpolate'|'zero' (--fill) to "
            "fill gaps" + dst_hint(times, grid[first])
        )
    filled = group.set_axis(position).reindex(np.arange(len(grid)))
    inserted = filled[time_col].isna().to_numpy()
    filled[time_col] = np.where(inserted, np.asarray(grid), filled[time_col].to_numpy())
    filled[time_col] = filled[time_col].astype(times.dtype)
    return filled.reset_index(drop=True), n_missing


def _sorted_series(
    table: _Table,
    frame: pd.DataFrame,
    time_col: str,
    series_col: str | None,
    timezone: str | None,
) -> tuple[pd.DataFrame, int, list[tuple[str, pd.DataFrame]]]:
    """Add the parsed time (and series id) to ``frame``, sort it by series then time.

    With ``timezone`` the times are localized to it first, in file order within each series
    (a repeated local hour is told apart by its rows' order, which sorting by the local time
    would lose).

    Returns the sorted frame, how many rows moved, and ``(series id, rows)`` per series in
    sorted id order (one group with id ``""`` without a series column).
    """
    frame[time_col] = _parse_time(table, time_col)
    if series_col is not None:
        frame[series_col] = table.frame[series_col].astype(str)
    if timezone is not None:
        series = frame[series_col] if series_col else None
        frame[time_col] = localize(table, frame[time_col], series, time_col, timezone)
    frame, moved = _sort(frame, [series_col, time_col] if series_col else [time_col])
    if series_col is None:
        return frame, moved, [("", frame)]
    return frame, moved, [(str(k), g) for k, g in frame.groupby(series_col, sort=True)]


def _check_duplicates(
    table: _Table, groups: list[tuple[str, pd.DataFrame]], time_col: str, series_col: str | None
) -> None:
    """No time twice within a series. Checked before the frequency is inferred: repeated
    times usually mean several series in one file, which the error then says."""
    for sid, group in groups:
        times = group[time_col]
        duplicated = times.duplicated(keep="first").to_numpy()
        if not duplicated.any():
            continue
        at = int(np.flatnonzero(duplicated)[0])
        row = int(group.index[at])
        first = int(group.index[(times == times.iloc[at]).to_numpy()][0])
        where = f" in series {sid!r}" if series_col else ""
        hint = (
            ""
            if series_col
            else " — if the file holds several series, pass --series-id / series_column"
        ) + dst_hint(times, times.loc[row])
        repeated = int(duplicated.sum())
        raise UserInputError(
            f"{table.where(row, time_col)}: duplicate timestamps{where}: {times.loc[row]} is "
            f"also at row {first + 1}"
            + (f" ({repeated} repeated rows in all)" if repeated > 1 else "")
            + hint
        )


def _spacing(
    table: _Table, groups: list[tuple[str, pd.DataFrame]], time_col: str, freq: str | None
) -> tuple[str | None, float | None]:
    """``(freq, None)`` for datetimes (``freq`` checked, or inferred), ``(None, step)`` for
    numeric times, ``step`` the median positive spacing (robust to a minority of gaps and to
    float rounding; None for single-step series)."""
    if pd.api.types.is_datetime64_any_dtype(groups[0][1][time_col]):
        if freq is None:
            freq = _infer_freq([g[time_col] for _, g in groups])
        if freq is None:
            raise UserInputError(
                f"{table.where(column=time_col)}: cannot infer the frequency of the time index; "
                "pass freq= (--freq), e.g. 'D', 'h', '30min', 'MS'"
            )
        try:
            pd.tseries.frequencies.to_offset(freq)
        except ValueError as err:
            raise UserInputError(f"unknown frequency {freq!r}: {err}") from err
        return freq, None
    diffs = np.concatenate([np.diff(g[time_col].to_numpy()) for _, g in groups])
    return None, (float(np.median(diffs[diffs > 0])) if (diffs > 0).any() else None)


def load_forecast_csv(
    path: PathLike | pd.DataFrame,
    *,
    target: str | Sequence[str] | None = None,
    time_column: str | None = None,
    series_column: str | None = None,
    past_covariates: Sequence[str] | None = None,
    future_covariates: Sequence[str] | None = None,
    freq: str | None = None,
    season_length: int | None = None,
    window: int | None = None,
    horizon: int | None = None,
    fill: str | None = None,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    val_steps: int | None = None,
    test_steps: int | None = None,
    timezone: str | None = None,
) -> ForecastData:
    """Read a forecasting table (CSV or Parquet) into :class:`ForecastData`.

    Layouts: one series (a time column, target column(s), optional covariates) or many series
    in long format (``series_id``/``unique_id``, ``time``/``ds``, ``value``/``y``, like
    NeuralForecast). Each series is split chronologically: the last ``test_fraction`` of its
    steps is test, the ``val_fraction`` before it validation.

    Args:
        path: ``.csv``, ``.tsv`` or ``.parquet`` file, or a DataFrame (named ``DataFrame`` in
            messages; its index is ignored).
        target: target column(s); default ``value`` or ``y``, or the only numeric column.
        time_column: default the first of ``time, ds, date, timestamp, datetime`` present.
            Datetimes or numbers (integer steps) are accepted.
        series_column: default ``series_id`` or ``unique_id`` when present (long format).
        past_covariates: covariates known only up to the forecast origin.
        future_covariates: covariates known over the horizon too (calendar, planned events).
        freq: pandas frequency; inferred when omitted (gaps tolerated in the inference).
        season_length: default from ``freq`` (48 for half-hours, 7 for days, 12 for months...).
        window, horizon: when given, every series must be long enough for them.
        fill: ``"ffill"``, ``"interpolate"`` or ``"zero"`` to accept missing values and gaps
            (missing time steps are inserted, then filled); default None: they are errors.
        val_fraction, test_fraction: chronological split fractions.
        val_steps, test_steps: when either is given, the split is by steps instead: the last
            ``test_steps`` steps of each series are test (default 0: none) and the
            ``val_steps`` before them validation (default 0); the rest is train. A
            forecaster uses ``val_steps`` for early stopping only and no test split, so it
            trains on everything up to the validation window.
        timezone: IANA time zone (``"Europe/Berlin"``) of times written as local clock
            times: they are localized to it (a repeated hour when the clocks go back is told
            apart by the order of the rows of a series in time order; a time the clocks
            skip is an error), times with UTC offsets are converted to it, and the time
            column holds tz-aware times in that zone on a regular grid across
            daylight-saving changes. None: naive times are read as they are, times with
            offsets as absolute times (in UTC when the offsets change).

    Other columns are ignored and listed in the summary. Raises UserInputError (file, row,
    column) for every problem listed in docs/data.md.
    """
    _check_fill(fill)
    table = _open(path)
    time_col = table.detect(time_column, TIME_CANDIDATES, "time")
    if time_col is None:
        table.column("time", "time")  # raises with a suggestion
    if timezone is not None:
        check_timezone(timezone, table.where(column=time_col))
    series_col = table.detect(series_column, SERIES_CANDIDATES, "series id")
    past = [table.column(c, "past covariate") for c in _as_list(past_covariates)]
    future = [table.column(c, "future covariate") for c in _as_list(future_covariates)]
    reserved = {time_col, series_col, *past, *future}
    if target is None:
        target = next((c for c in TARGET_CANDIDATES if c in table.frame.columns), None)
    if target is None:
        others = [c for c in table.frame.columns if c not in reserved]
        numeric = [
            c for c in others if pd.to_numeric(table.frame[c], errors="coerce").notna().any()
        ]
        if len(numeric) != 1:
            raise UserInputError(
                f"{table.path}: cannot tell the target column; pass target= (--target) with one "
                f"of {others}"
            )
        target = numeric[0]
    targets = [table.column(c, "target") for c in _as_list(target)]
    features = [*targets, *past, *future]
    if len(set(features)) != len(features) or reserved & set(targets):
        raise UserInputError(f"{table.path}: a column is used twice among {features}")
    ignored = [c for c in table.frame.columns if c not in {*reserved, *targets}]

    frame = table.numeric(features, allow_missing=fill is not None)
    frame, moved, groups = _sorted_series(table, frame, time_col, series_col, timezone)
    _check_duplicates(table, groups, time_col, series_col)
    freq, step = _spacing(table, groups, time_col, freq)

    parts, n_inserted, n_filled = [], 0, 0
    for sid, group in groups:
        label = f" in series {sid!r}" if series_col else ""
        group, inserted = _regularize(table, group, time_col, label, freq, step, fill)
        n_inserted += inserted
        if fill is not None:
            n_filled += int(group[features].isna().to_numpy().sum())
            group = group.copy()
            group[features] = _fill(group[features], fill)
        if series_col:
            group[series_col] = sid
        parts.append((sid, group))

    splits: list[list[pd.DataFrame]] = [[], [], []]
    fractions = (1 - val_fraction - test_fraction, val_fraction, test_fraction)
    by_steps = val_steps is not None or test_steps is not None
    val_steps, test_steps = int(val_steps or 0), int(test_steps or 0)
    if min(val_steps, test_steps) < 0:
        raise UserInputError(f"val_steps and test_steps must be ≥ 0; got {val_steps}, {test_steps}")
    for sid, group in parts:
        n = len(group)
        name = f"series {sid!r}" if series_col else "the series"
        rows = f"{table.path}: {name} ({n} steps)"
        if window is not None and horizon is not None and n < window + horizon:
            raise UserInputError(
                f"{rows} is shorter than window + horizon = {window} + {horizon}; use a "
                "smaller window or horizon, or drop that series"
            )
        need_train = (window or 0) + (horizon or 1)
        if by_steps:
            train_end, val_end = n - test_steps - val_steps, n - test_steps
            if train_end < need_train or any(
                0 < k < (horizon or 1) for k in (val_steps, test_steps)
            ):
                raise UserInputError(
                    f"{rows} is too short to keep {val_steps} validation and {test_steps} test "
                    f"steps with window {window} and horizon {horizon}: train gets "
                    f"{train_end}, it needs {need_train}; use a smaller validation size "
                    "(--val-size), window or horizon"
                )
            for i, piece in enumerate(
                (group[:train_end], group[train_end:val_end], group[val_end:])
            ):
                splits[i].append(piece)
            continue
        train_end, val_end = chronological_cut(n, fractions)
        if (
            min(train_end, val_end - train_end, n - val_end) < (horizon or 1)
            or train_end < need_train
        ):
            raise UserInputError(
                f"{rows} is too short to split {fractions[0]:.0%}/{val_fraction:.0%}/"
                f"{test_fraction:.0%} into train/val/test with window {window} and horizon "
                f"{horizon}: train gets {train_end}, val {val_end - train_end}, test {n - val_end}"
            )
        for i, piece in enumerate((group[:train_end], group[train_end:val_end], group[val_end:])):
            splits[i].append(piece)
    train, val, test = (pd.concat(s, ignore_index=True) for s in splits)
    data = ForecastData(
        train,
        val,
        test,
        target_columns=targets,
        covariate_columns=past,
        future_covariate_columns=future,
        freq=freq,
        season_length=season_length or season_length_for(freq),
        time_column=time_col,
        series_column=series_col,
        name=table.path.name,
    )
    n_rows = sum(len(g) for _, g in parts)
    spacing = _spacing_text(freq, step, timezone)
    summary = (
        f"{table.path.name}: read {table.rows_read} rows; kept {len(parts)} series, {n_rows} "
        f"steps (freq {spacing}); sorted {moved} rows; inserted {n_inserted} missing time "
        f"steps; filled {n_filled} values"
        + (f" ({fill})" if fill else "")
        + f"; split train/val/test {len(train)}/{len(val)}/{len(test)} steps"
        + (f"; ignored columns {ignored}" if ignored else "")
    )
    return _finish(summary, data)


class ForecastRows(NamedTuple):
    """What :func:`read_forecast_rows` returns."""

    frame: pd.DataFrame
    """Rows sorted by series then time on a regular grid, original units; columns: targets,
    past covariates, future covariates, the time column, then the series column if any."""
    summary: str
    """One line: rows read, series and steps kept, rows sorted, steps inserted, values filled,
    future rows, ignored columns."""


def read_forecast_rows(
    source: PathLike | pd.DataFrame,
    *,
    target: str | Sequence[str],
    time_column: str,
    series_column: str | None = None,
    past_covariates: Sequence[str] = (),
    future_covariates: Sequence[str] = (),
    freq: str | None = None,
    fill: str | None = None,
    allow_future_rows: bool = False,
    timezone: str | None = None,
) -> ForecastRows:
    """Read a forecasting table at prediction time with the columns a model was trained on.

    Pass the training-time column spec (the ``target_columns``, ``time_column``,
    ``series_column``, ``covariate_columns``, ``future_covariate_columns`` and ``freq`` of the
    training :class:`~rnnlab.data.ForecastData`). The table gets the checks of
    :func:`load_forecast_csv` (numbers, missing values, times, duplicates, gaps and off-grid
    times, each error naming file, row and column) but is not split, and no column is guessed.

    Args:
        source: ``.csv``, ``.tsv`` or ``.parquet`` file, or a DataFrame (named ``DataFrame``
            in messages; its index is ignored).
        target, time_column, series_column, past_covariates, future_covariates: the training
            columns; all must be present. Other columns are ignored (listed in the summary).
        freq: the training frequency for datetime times: the data must have it (when it can
            be inferred) and is checked against its grid. None infers it as
            :func:`load_forecast_csv` does; numeric times use their median spacing.
        fill: ``"ffill"``, ``"interpolate"`` or ``"zero"`` to fill missing values and gaps,
            else they are errors.
        allow_future_rows: each series may end with rows whose targets are all empty (the
            forecast horizon, giving its future covariates); their past covariates may be
            empty too, their future covariates may not. Elsewhere an empty target or
            covariate is an error unless ``fill``.
        timezone: IANA time zone of local clock times, as in :func:`load_forecast_csv`
            (a model's ``timezone``).

    Returns:
        :class:`ForecastRows` ``(frame, summary)``; the summary is also logged at INFO level.
    """
    _check_fill(fill)
    table = _open(source)
    if timezone is not None:
        check_timezone(timezone, table.where(column=time_column))
    targets, past, future = _as_list(target), _as_list(past_covariates), _as_list(future_covariates)
    features = [*targets, *past, *future]
    needed = [*([series_column] if series_column else []), time_column, *features]
    _require(table, needed)
    if len(set(needed)) != len(needed):
        raise UserInputError(f"{table.path}: a column is used twice among {needed}")
    # Future rows leave targets and past covariates empty; holes are checked per series below.
    lenient = allow_future_rows or fill is not None
    frame = pd.concat(
        [
            table.numeric([*targets, *past], allow_missing=lenient),
            table.numeric(future, allow_missing=fill is not None),
        ],
        axis=1,
    )
    frame, moved, groups = _sorted_series(table, frame, time_column, series_column, timezone)
    _check_duplicates(table, groups, time_column, series_column)
    is_datetime = pd.api.types.is_datetime64_any_dtype(frame[time_column])
    if freq is not None and not is_datetime:
        raise UserInputError(
            f"{table.where(column=time_column)}: the model was trained on timestamps with "
            f"frequency {freq!r}, but this column holds plain numbers"
        )
    trained_freq = freq
    freq, step = _spacing(table, groups, time_column, freq)
    if trained_freq is not None:
        found = _infer_freq([g[time_column] for _, g in groups])
        on_grid = all(_on_grid(g[time_column], trained_freq) for _, g in groups)
        if found is not None and _offset(found) != _offset(trained_freq) and not on_grid:
            raise UserInputError(
                f"{table.where(column=time_column)}: the data has frequency {found!r}, but the "
                f"model was trained on frequency {trained_freq!r}"
            )

    parts, n_inserted, n_filled, n_ahead = [], 0, 0, 0
    for sid, group in groups:
        label = f" in series {sid!r}" if series_column else ""
        group, inserted = _regularize(table, group, time_column, label, freq, step, fill)
        n_inserted += inserted
        ahead = _trailing_empty(group[targets]) if allow_future_rows else 0
        if ahead == len(group):
            raise UserInputError(
                f"{table.path}: no target value{label or ' in the series'}; prediction needs "
                "the observed history before the future rows"
            )
        observed = group.iloc[: len(group) - ahead]
        if fill is not None:
            group = group.copy()
            n_filled += int(observed[features].isna().to_numpy().sum())
            group.iloc[: len(observed), group.columns.get_indexer(features)] = _fill(
                observed[features], fill
            ).to_numpy()
            if future:
                n_filled += int(group[future].iloc[len(observed) :].isna().to_numpy().sum())
                group[future] = _fill(group[future], fill)
            observed = group.iloc[: len(observed)]
        for columns, rows in (([*targets, *past], observed), (future, group)):
            holes = rows[columns].isna().to_numpy()
            if holes.any():
                at, column = np.argwhere(holes)[0]
                where = table.where(None if fill else int(rows.index[at]), columns[column])
                raise UserInputError(
                    f"{where}: missing value{label}"
                    + (" (the column is empty)" if fill else " before the end of the series")
                    + ("" if fill else "; pass fill='ffill'|'interpolate'|'zero' (--fill)")
                )
        if series_column:
            group[series_column] = sid
        n_ahead += ahead
        parts.append(group)
    result = pd.concat(parts, ignore_index=True)
    ignored = [c for c in table.frame.columns if c not in needed]
    spacing = _spacing_text(freq, step, timezone)
    summary = (
        f"{table.path.name}: read {table.rows_read} rows; kept {len(parts)} series, "
        f"{len(result) - n_ahead} observed steps (freq {spacing})"
        + (f" and {n_ahead} future rows" if allow_future_rows else "")
        + f"; sorted {moved} rows; inserted {n_inserted} missing time steps; filled "
        f"{n_filled} values"
        + (f" ({fill})" if fill else "")
        + (f"; ignored columns {ignored}" if ignored else "")
    )
    log.info(summary)
    return ForecastRows(result, summary)


def _spacing_text(freq: str | None, step: float | None, timezone: str | None) -> str:
    """How the summary names the grid: ``h, local times in Europe/Berlin``."""
    spacing = freq or (f"{step:g}" if step else "unknown")
    return spacing + (f", local times in {timezone}" if timezone else "")


def _trailing_empty(targets: pd.DataFrame) -> int:
    """How many rows at the end have every target empty."""
    empty = targets.isna().all(axis=1).to_numpy()[::-1]
    return len(empty) if empty.all() else int(np.argmin(empty))


def _on_grid(times: pd.Series, freq: str) -> bool:
    """Every time lies on the ``freq`` grid from the first (a business-day model reads data
    that happen to look daily, e.g. a short stretch without a weekend)."""
    grid = pd.date_range(times.iloc[0], times.iloc[-1], freq=freq)
    return bool(grid.get_indexer(times).min() >= 0) if len(times) else True


def _offset(freq: str) -> pd.DateOffset:
    return pd.tseries.frequencies.to_offset(freq)
