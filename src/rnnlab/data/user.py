"""The user's own files: forecasting and classification tables, arrays and text.

Every problem a user can cause is a :class:`~rnnlab.errors.UserInputError` whose message names
the file, the row and the column (rows count data rows from 1, header excluded; for CSV the
file line is row + 1), and says how to fix it. Unsorted rows are sorted, never rejected;
missing values and gaps in the time index are errors unless ``fill`` is given. Nothing is
dropped silently: each loader returns its container with a one-line ``summary`` (rows read,
series or sequences kept, anything sorted, filled or ignored), also logged at INFO level.

The CLI commands that read user data (``fit``, ``predict``, ``evaluate``, ``compare --data``)
call these functions, so the Python API and the CLI share one set of checks. Tables may be
files or pandas DataFrames (named ``DataFrame`` in messages). At prediction time,
:func:`read_forecast_rows` reads a forecasting table with the columns a model was trained on,
and :func:`read_sequence_rows` long-format sequences (labels optional), with the same checks
and no split.
"""

from __future__ import annotations

import difflib
import logging
import os
import warnings
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from rnnlab.data import build
from rnnlab.data.containers import ForecastData, LanguageModelData, SequenceClassificationData
from rnnlab.data.splits import SPLIT_SEED, chronological_cut, stratified_split
from rnnlab.errors import UserInputError

log = logging.getLogger(__name__)

FILL_METHODS = ("ffill", "interpolate", "zero")
TIME_CANDIDATES = ("time", "ds", "date", "timestamp", "datetime")
SERIES_CANDIDATES = ("series_id", "unique_id")
TARGET_CANDIDATES = ("value", "y")
ORDER_CANDIDATES = ("time", "order", "step", "t")
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")

PathLike = str | os.PathLike
# What every reader of user data takes: a file path, or a DataFrame with the same columns.
Source = PathLike | pd.DataFrame


# ------------------------------------------------------------------------------ helpers


class _Table:
    """A table read from a file (or given as ``frame``, then ``path`` only names it in
    messages) plus what is needed to name places in it."""

    def __init__(self, path: PathLike, frame: pd.DataFrame | None = None) -> None:
        self.path = Path(path)
        self.is_csv = frame is None and self.path.suffix.lower() in (".csv", ".tsv")
        if frame is not None and frame.empty:
            raise UserInputError(f"{self.path}: the table has no rows")
        self.frame = _read_table(self.path) if frame is None else _tidy(frame.copy())
        self.rows_read = len(self.frame)

    def where(self, row: int | None = None, column: str | None = None) -> str:
        """``"file, row 5 (line 6), column 'y'"`` for the 0-based data row ``row``."""
        parts = [str(self.path)]
        if row is not None:
            parts.append(f"row {row + 1}" + (f" (line {row + 2})" if self.is_csv else ""))
        if column is not None:
            parts.append(f"column {column!r}")
        return ", ".join(parts)

    def column(self, name: str, role: str) -> str:
        """``name`` if it is a column; else UserInputError suggesting the closest one."""
        if name in self.frame.columns:
            return name
        close = _closest(self, name)
        hint = f" Did you mean {close!r}?" if close else ""
        columns = _names(self.frame.columns)
        raise UserInputError(
            f"{self.path}: {role} column {name!r} not found.{hint} Columns: {columns}"
        )

    def detect(self, given: str | None, candidates: Sequence[str], role: str) -> str | None:
        """The column for ``role``: ``given`` (checked), else the first candidate present."""
        if given is not None:
            return self.column(given, role)
        return next((c for c in candidates if c in self.frame.columns), None)

    def numeric(self, columns: Sequence[str], allow_missing: bool) -> pd.DataFrame:
        """``columns`` as float64; non-numeric cells, and NaN/Inf unless ``allow_missing``,
        raise an error naming the first offending row and column (Inf becomes NaN)."""
        out = {}
        for name in columns:
            raw = self.frame[name]
            values = pd.to_numeric(_booleans_as_numbers(raw), errors="coerce").astype(np.float64)
            bad = values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise UserInputError(
                    f"{self.where(row, name)}: non-numeric value {raw.iloc[row]!r} "
                    f"({int(bad.sum())} such cells in this column)"
                )
            values = values.replace([np.inf, -np.inf], np.nan)
            missing = values.isna().to_numpy()
            if missing.any() and not allow_missing:
                row = int(np.flatnonzero(missing)[0])
                raise UserInputError(
                    f"{self.where(row, name)}: missing or infinite value ({int(missing.sum())} "
                    f"in this column); pass fill='ffill'|'interpolate'|'zero' (--fill) to fill "
                    "them"
                )
            out[name] = values
        return pd.DataFrame(out, index=self.frame.index)


def _open(source: PathLike | pd.DataFrame) -> _Table:
    """A file read from disk, or a DataFrame (named ``DataFrame`` in messages)."""
    if isinstance(source, pd.DataFrame):
        return _Table("DataFrame", source)
    return _Table(source)


def _require(table: _Table, needed: Sequence[str]) -> None:
    """Every column of ``needed`` (the training columns) present, else an error listing the
    missing ones with the closest name present for each."""
    missing = [c for c in needed if c not in table.frame.columns]
    if not missing:
        return
    hints = [f"{c!r} for {name!r}" for name in missing if (c := _closest(table, name))]
    raise UserInputError(
        f"{table.path}: the model was trained with column(s) {', '.join(needed)}; missing "
        f"here: {', '.join(missing)}"
        + (f". Did you mean {', '.join(hints)}?" if hints else "")
        + f" (columns present: {_names(table.frame.columns)})"
    )


def _names(columns: Sequence[object]) -> str:
    """Column names for a one-line message: a name with a line break or other control
    character is quoted with escapes."""
    return ", ".join(str(c) if str(c).isprintable() else repr(str(c)) for c in columns)


def _closest(table: _Table, name: str) -> str | None:
    """The column most like ``name``: the same up to case, else the closest spelling."""
    columns = [str(c) for c in table.frame.columns]
    lower = {c.lower(): c for c in columns}
    if name.lower() in lower:
        return lower[name.lower()]
    close = difflib.get_close_matches(name, columns, n=1, cutoff=0.6)
    return close[0] if close else None


def table_columns(source: PathLike | pd.DataFrame) -> list[str]:
    """The column names of a table file or DataFrame as the loaders see them (stripped),
    after the same file checks (missing, empty, unreadable)."""
    return [str(c) for c in _open(source).frame.columns]


def _booleans_as_numbers(raw: pd.Series) -> pd.Series:
    """True/False cells (as pandas and spreadsheets write booleans) as 1/0; others unchanged."""
    if raw.dtype == bool:
        return raw.astype(np.int64)
    words = raw.astype(str).str.strip().str.lower().map(_BOOLEAN_WORDS)
    return raw.where(words.isna(), words)


_BOOLEAN_WORDS = {"true": 1, "false": 0}


def _read_table(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise UserInputError(f"{path}: file not found")
    if path.is_dir():
        raise UserInputError(f"{path}: is a folder, expected a {'/'.join(TABLE_SUFFIXES)} file")
    if path.stat().st_size == 0:
        raise UserInputError(f"{path}: file is empty")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        elif suffix in (".csv", ".tsv"):
            # Read as text so a bad cell can be reported as written; utf-8-sig drops a BOM.
            frame = pd.read_csv(path, sep=_delimiter(path), dtype=str, encoding="utf-8-sig")
        else:
            raise UserInputError(
                f"{path}: unsupported file type {suffix!r}; expected one of {TABLE_SUFFIXES}"
            )
    except pd.errors.EmptyDataError as err:
        raise UserInputError(f"{path}: file is empty") from err
    except pd.errors.ParserError as err:
        reason = " ".join(str(err).split())  # pandas ends it with a newline
        raise UserInputError(f"{path}: cannot parse the file: {reason}") from err
    except UnicodeDecodeError as err:
        raise UserInputError(f"{path}: not UTF-8 text ({err.reason}); save it as UTF-8") from err
    if frame.empty:
        raise UserInputError(f"{path}: file has a header but no data rows")
    return _tidy(frame)


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.reset_index(drop=True)


def _delimiter(path: Path) -> str:
    """The separator of a CSV/TSV file: the most frequent of , ; tab | in its header line."""
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline()
    counts = {sep: header.count(sep) for sep in (",", ";", "\t", "|")}
    best = max(counts, key=counts.__getitem__)
    if counts[best] == 0:
        return "\t" if path.suffix.lower() == ".tsv" else ","
    return best


def _check_fill(fill: str | None) -> None:
    if fill is not None and fill not in FILL_METHODS:
        raise UserInputError(f"fill must be one of {FILL_METHODS} or None, got {fill!r}")


def _fill(values: pd.DataFrame, method: str) -> pd.DataFrame:
    """Fill NaN within one series/sequence. Leading gaps take the first valid value."""
    if method == "zero":
        return values.fillna(0.0)
    if method == "interpolate":
        values = values.interpolate(method="linear", limit_direction="both")
    return values.ffill().bfill()


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _sort(frame: pd.DataFrame, keys: list[str]) -> tuple[pd.DataFrame, int]:
    """Stable sort by ``keys``; returns the frame and how many rows moved."""
    ordered = frame.sort_values(keys, kind="stable")
    moved = int((ordered.index.to_numpy() != frame.index.to_numpy()).sum())
    return ordered, moved


def _finish(summary: str, data):
    log.info(summary)
    data.summary = summary
    return data


# -------------------------------------------------------------------------- forecasting


def _parse_time(table: _Table, column: str) -> pd.Series:
    raw = table.frame[column]
    if pd.api.types.is_datetime64_any_dtype(raw):  # typed already (Parquet)
        return raw
    numeric = pd.to_numeric(raw, errors="coerce")
    if numeric.notna().all():
        return numeric.astype(np.int64) if (numeric % 1 == 0).all() else numeric
    parsed = _parse_datetimes(raw)
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise UserInputError(f"{table.where(row, column)}: cannot read {raw.iloc[row]!r} as a time")
    return parsed


def _parse_datetimes(raw: pd.Series) -> pd.Series:
    """Datetimes in one format for the whole column, NaT where a cell cannot be read.

    The format is guessed from the first value, month first (pandas' default) and day first;
    when both read every cell, the one giving the more regular time grid wins (01/02, 02/02,
    03/02 is a daily series day first, a monthly one month first). Parsing each cell on its
    own would read 05/01 as May 1 and 13/01 as January 13 in the same file."""
    readings = []
    for dayfirst in (False, True):
        with warnings.catch_warnings(), suppress(ValueError, TypeError, OverflowError):
            warnings.simplefilter("ignore", UserWarning)  # pandas' "could not infer format"
            readings.append(pd.to_datetime(raw, dayfirst=dayfirst))
    if not readings:
        return pd.to_datetime(raw, errors="coerce", format="mixed")
    return min(readings, key=_distinct_spacings)  # min keeps the first (month first) on ties


def _distinct_spacings(times: pd.Series) -> int:
    return len(np.unique(np.diff(np.sort(times.dropna().to_numpy()))))


def _infer_freq(times: list[pd.Series]) -> str | None:
    """pandas frequency of datetime series, tolerant of gaps: tries short runs of each."""
    for series in times:
        values = pd.DatetimeIndex(series)
        for start in range(0, max(len(values) - 4, 1), max(len(values) // 20, 1)):
            freq = pd.infer_freq(values[start : start + 5]) if len(values) >= 3 else None
            if freq:
                return freq
    return None


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
            "fill gaps"
        )
    filled = group.set_axis(position).reindex(np.arange(len(grid)))
    inserted = filled[time_col].isna().to_numpy()
    filled[time_col] = np.where(inserted, np.asarray(grid), filled[time_col].to_numpy())
    filled[time_col] = filled[time_col].astype(times.dtype)
    return filled.reset_index(drop=True), n_missing


def _sorted_series(
    table: _Table, frame: pd.DataFrame, time_col: str, series_col: str | None
) -> tuple[pd.DataFrame, int, list[tuple[str, pd.DataFrame]]]:
    """Add the parsed time (and series id) to ``frame``, sort it by series then time.

    Returns the sorted frame, how many rows moved, and ``(series id, rows)`` per series in
    sorted id order (one group with id ``""`` without a series column).
    """
    frame[time_col] = _parse_time(table, time_col)
    if series_col is not None:
        frame[series_col] = table.frame[series_col].astype(str)
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
        )
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

    Other columns are ignored and listed in the summary. Raises UserInputError (file, row,
    column) for every problem listed in docs/data.md.
    """
    _check_fill(fill)
    table = _open(path)
    time_col = table.detect(time_column, TIME_CANDIDATES, "time")
    if time_col is None:
        table.column("time", "time")  # raises with a suggestion
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
    frame, moved, groups = _sorted_series(table, frame, time_col, series_col)
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
    for sid, group in parts:
        n = len(group)
        name = f"series {sid!r}" if series_col else "the series"
        rows = f"{table.path}: {name} ({n} steps)"
        if window is not None and horizon is not None and n < window + horizon:
            raise UserInputError(
                f"{rows} is shorter than window + horizon = {window} + {horizon}; use a "
                "smaller window or horizon, or drop that series"
            )
        train_end, val_end = chronological_cut(n, fractions)
        need_train = (window or 0) + (horizon or 1)
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
    spacing = freq or (f"{step:g}" if step else "unknown")
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

    Returns:
        :class:`ForecastRows` ``(frame, summary)``; the summary is also logged at INFO level.
    """
    _check_fill(fill)
    table = _open(source)
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
    frame, moved, groups = _sorted_series(table, frame, time_column, series_column)
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
        if found is not None and _offset(found) != _offset(trained_freq):
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
    spacing = freq or (f"{step:g}" if step else "unknown")
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


def _trailing_empty(targets: pd.DataFrame) -> int:
    """How many rows at the end have every target empty."""
    empty = targets.isna().all(axis=1).to_numpy()[::-1]
    return len(empty) if empty.all() else int(np.argmin(empty))


def _offset(freq: str) -> pd.DateOffset:
    return pd.tseries.frequencies.to_offset(freq)


# ----------------------------------------------------------------------- classification


def _classes(labels: Sequence[object], source: str) -> tuple[np.ndarray, list[str]]:
    names = sorted({str(v) for v in labels}, key=_natural_key)
    if len(names) < 2:
        raise UserInputError(
            f"{source}: found {len(names)} class ({names}); classification needs at least two"
        )
    index = {name: i for i, name in enumerate(names)}
    return np.array([index[str(v)] for v in labels], dtype=np.int64), names


def _natural_key(name: str) -> tuple[int, float, str]:
    try:
        return (0, float(name), name)
    except ValueError:
        return (1, 0.0, name)


def _split_items(
    label_index: np.ndarray,
    fractions: tuple[float, float, float],
    seed: int,
    source: Path,
    items: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The seeded stratified split; UserInputError when a split asked for comes out empty."""
    splits = stratified_split(label_index, fractions, seed)
    sizes = [len(s) for s in splits]
    if any(size == 0 and fraction > 0 for size, fraction in zip(sizes, fractions, strict=True)):
        percent = "/".join(f"{fraction:.0%}" for fraction in fractions)
        raise UserInputError(
            f"{source}: {len(label_index)} {items} are too few to split {percent} into "
            f"train/val/test: the split gives {sizes[0]}/{sizes[1]}/{sizes[2]}; add {items}, "
            "or set val_fraction/test_fraction (0 for none)"
        )
    return splits


def _split_fractions(val_fraction: float, test_fraction: float) -> tuple[float, float, float]:
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise UserInputError(
            f"val_fraction and test_fraction must be in [0, 1) with a sum below 1, got "
            f"{val_fraction} and {test_fraction}"
        )
    return (1 - val_fraction - test_fraction, val_fraction, test_fraction)


class SequenceRows(NamedTuple):
    """What :func:`read_sequence_rows` returns: sequences in sorted sequence-id order."""

    ids: list[str]
    sequences: list[np.ndarray]
    """One float64 ``(T_i, len(features))`` array per sequence, in original units."""
    labels: list[str] | None
    """The label of each sequence (as text), or None when no label column was given."""
    features: list[str]
    summary: str
    """One line: rows read, sequences kept, rows sorted, values filled."""
    n_sorted: int = 0
    """How many rows were moved by sorting."""
    n_filled: int = 0
    """How many missing values were filled."""


def read_sequence_rows(
    source: PathLike | pd.DataFrame,
    *,
    sequence_column: str,
    time_column: str | None = None,
    features: Sequence[str] | None = None,
    label_column: str | None = None,
    fill: str | None = None,
) -> SequenceRows:
    """Read long-format sequences at prediction or embedding time: no split, labels optional.

    The table gets the checks of :func:`load_classification_csv` (columns, numbers, NaN/Inf
    unless ``fill``, duplicate times within a sequence, a label constant per sequence when
    ``label_column`` is given), each error naming the file, row and column. Rows are sorted by
    sequence id, then by ``time_column`` (None keeps file order within a sequence).

    Args:
        source: ``.csv``, ``.tsv`` or ``.parquet`` file, or a DataFrame (named ``DataFrame``
            in messages; its index is ignored).
        sequence_column, time_column, label_column: column names; no column is guessed.
        features: the feature columns (e.g. those a model was trained on); None takes every
            other column. A missing column is an error suggesting the closest name.
        fill: ``"ffill"``, ``"interpolate"`` or ``"zero"`` to fill missing values, else they
            are errors.

    Returns:
        :class:`SequenceRows`; the summary is also logged at INFO level.
    """
    _check_fill(fill)
    table = _open(source)
    seq_col = table.column(sequence_column, "sequence id")
    order_col = None if time_column is None else table.column(time_column, "time/order")
    label_col = None if label_column is None else table.column(label_column, "label")
    features = _feature_columns(table, features, {seq_col, order_col, label_col})
    rows = _sequences(table, seq_col, order_col, features, label_col, fill)
    log.info(rows.summary)
    return rows


def _feature_columns(
    table: _Table, features: Sequence[str] | None, reserved: set[str | None]
) -> list[str]:
    if features is None:
        features = [c for c in table.frame.columns if c not in reserved]
    features = [table.column(c, "feature") for c in features]
    if not features:
        raise UserInputError(
            f"{table.path}: no feature columns besides {sorted(reserved - {None})}"
        )
    return features


def _sequences(
    table: _Table,
    seq_col: str,
    order_col: str | None,
    features: list[str],
    label_col: str | None,
    fill: str | None,
) -> SequenceRows:
    """Group a long table into sorted, checked (and with ``fill`` filled) sequences."""
    values = table.numeric(features, allow_missing=fill is not None)
    values["_seq"] = table.frame[seq_col].astype(str)
    if label_col is not None:
        missing_label = table.frame[label_col].isna().to_numpy()
        if missing_label.any():
            row = int(np.flatnonzero(missing_label)[0])
            raise UserInputError(f"{table.where(row, label_col)}: missing label")
        values["_label"] = table.frame[label_col].astype(str)
    keys = ["_seq"]
    if order_col is not None:
        values["_order"] = _parse_time(table, order_col)
        keys.append("_order")
    values, moved = _sort(values, keys)

    ids, sequences, labels, n_filled = [], [], [], 0
    for sid, group in values.groupby("_seq", sort=True):
        if label_col is not None:
            distinct = group["_label"].unique()
            if len(distinct) > 1:
                row = int(group.index[(group["_label"] != distinct[0]).to_numpy()][0])
                raise UserInputError(
                    f"{table.where(row, label_col)}: label changes within sequence {sid!r} "
                    f"({distinct[0]!r} then {group['_label'].loc[row]!r}); labels must be "
                    "constant per sequence"
                )
            labels.append(str(distinct[0]))
        if order_col is not None:
            duplicated = group["_order"].duplicated().to_numpy()
            if duplicated.any():
                row = int(group.index[np.flatnonzero(duplicated)[0]])
                raise UserInputError(
                    f"{table.where(row, order_col)}: duplicate time {group['_order'].loc[row]} "
                    f"in sequence {sid!r}"
                )
        steps = group[features]
        if fill is not None:
            n_filled += int(steps.isna().to_numpy().sum())
            # A feature missing at every step of a sequence has nothing to fill from: zero.
            steps = _fill(steps, fill).fillna(0.0)
        ids.append(str(sid))
        sequences.append(steps.to_numpy(np.float64))
    summary = (
        f"{table.path.name}: read {table.rows_read} rows; kept {len(ids)} sequences, "
        f"{len(features)} features; sorted {moved} rows; filled {n_filled} values"
        + (f" ({fill})" if fill else "")
    )
    return SequenceRows(
        ids, sequences, labels if label_col else None, features, summary, moved, n_filled
    )


def load_classification_csv(
    path: PathLike | pd.DataFrame,
    *,
    sequence_column: str = "sequence_id",
    time_column: str | None = None,
    label_column: str = "label",
    features: Sequence[str] | None = None,
    fill: str | None = None,
    standardize: bool = True,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = SPLIT_SEED,
) -> SequenceClassificationData:
    """Read sequence-classification data: a long-format table or a folder of arrays.

    Table (CSV/Parquet file, or a DataFrame named ``DataFrame`` in messages): one row per step
    with ``sequence_column``, an order column (``time_column``; default the first of
    ``time, order, step, t`` present, else file order), feature columns (default: every other
    column) and ``label_column`` (constant within a sequence). A folder is read by
    :func:`load_classification_arrays`.

    Variable lengths are kept (zero padding + lengths), never truncated. The split is seeded
    and stratified by class (``seed``); features are standardised per channel on train.
    Raises UserInputError (file, row, column) for every problem listed in docs/data.md.
    """
    _check_fill(fill)
    fractions = _split_fractions(val_fraction, test_fraction)
    if not isinstance(path, pd.DataFrame) and Path(path).is_dir():
        return load_classification_arrays(
            path,
            fill=fill,
            standardize=standardize,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            seed=seed,
        )
    table = _open(path)
    seq_col = table.column(sequence_column, "sequence id")
    label_col = table.column(label_column, "label")
    order_col = table.detect(time_column, ORDER_CANDIDATES, "time/order")
    features = _feature_columns(table, features, {seq_col, label_col, order_col})
    rows = _sequences(table, seq_col, order_col, features, label_col, fill)
    sequences, labels = rows.sequences, rows.labels
    label_index, class_names = _classes(labels, f"{table.path}, column {label_col!r}")
    splits = _split_items(label_index, fractions, seed, table.path, "sequences")
    lengths = [len(s) for s in sequences]
    summary = (
        f"{table.path.name}: read {table.rows_read} rows; kept {len(sequences)} sequences "
        f"(lengths {min(lengths)}–{max(lengths)}), {len(features)} features, "
        f"{len(class_names)} classes; sorted {rows.n_sorted} rows; filled {rows.n_filled} values"
        + (f" ({fill})" if fill else "")
        + f"; split train/val/test {len(splits[0])}/{len(splits[1])}/{len(splits[2])} sequences"
    )
    data = build.classification_from_arrays(
        sequences, label_index, splits, class_names, name=table.path.name, standardize=standardize
    )
    return _finish(summary, data)


def load_classification_arrays(
    folder: PathLike,
    *,
    fill: str | None = None,
    standardize: bool = True,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = SPLIT_SEED,
) -> SequenceClassificationData:
    """Read a folder of ``.npy``/``.npz`` sequences.

    Two layouts: a subfolder per class, each file one sequence (``.npy``, or ``.npz`` with one
    array or an array ``x``), shaped ``(T,)`` or ``(T, I)``; or ``.npz`` files directly in the
    folder, each with arrays ``x`` ``(T, I)`` and ``label``. Errors name the file, the step
    (row) and the channel (column).
    """
    _check_fill(fill)
    fractions = _split_fractions(val_fraction, test_fraction)
    root = Path(folder)
    if not root.exists():
        raise UserInputError(f"{root}: folder not found")
    files = sorted(p for p in root.rglob("*") if p.suffix in (".npy", ".npz") and p.is_file())
    if not files:
        raise UserInputError(f"{root}: no .npy or .npz files found")
    sequences, labels, n_filled, width = [], [], 0, None
    for file in files:
        x, label = _read_array_file(file, root)
        if width is not None and x.shape[1] != width:
            raise UserInputError(
                f"{file}: {x.shape[1]} features per step, but earlier files have {width}"
            )
        width = x.shape[1]
        bad = ~np.isfinite(x)
        if bad.any():
            if fill is None:
                step, channel = (int(v) for v in np.argwhere(bad)[0])
                raise UserInputError(
                    f"{file}, row {step + 1} (step), column {channel} (channel): missing or "
                    "infinite value; pass fill='ffill'|'interpolate'|'zero' (--fill) to fill"
                )
            n_filled += int(bad.sum())
            x = _fill(pd.DataFrame(np.where(bad, np.nan, x)), fill).fillna(0.0).to_numpy()
        sequences.append(x)
        labels.append(label)
    label_index, class_names = _classes(labels, str(root))
    splits = _split_items(label_index, fractions, seed, root, "sequences")
    summary = (
        f"{root.name}: read {len(files)} files; kept {len(sequences)} sequences, {width} "
        f"features, {len(class_names)} classes; filled {n_filled} values"
        + (f" ({fill})" if fill else "")
        + f"; split train/val/test {len(splits[0])}/{len(splits[1])}/{len(splits[2])} sequences"
    )
    data = build.classification_from_arrays(
        sequences, label_index, splits, class_names, name=root.name, standardize=standardize
    )
    return _finish(summary, data)


def _read_array_file(file: Path, root: Path) -> tuple[np.ndarray, str]:
    try:
        loaded = np.load(file, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise UserInputError(f"{file}: cannot read the array file: {err}") from err
    label = file.parent.name if file.parent != root else None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            keys = list(loaded.keys())
            if "label" in keys:
                label = str(np.asarray(loaded["label"]).reshape(-1)[0])
            if "x" in keys:
                x = loaded["x"]
            elif len([k for k in keys if k != "label"]) == 1:
                x = loaded[next(k for k in keys if k != "label")]
            else:
                raise UserInputError(f"{file}: expected an array 'x' in the .npz, found {keys}")
    else:
        x = loaded
    if label is None:
        raise UserInputError(
            f"{file}: no label: put the file in a subfolder named after its class, or store "
            "an array 'label' in the .npz"
        )
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or len(x) == 0 or not np.issubdtype(x.dtype, np.number):
        raise UserInputError(
            f"{file}: expected a non-empty numeric array of shape (T,) or (T, features), got "
            f"{x.dtype} {x.shape}"
        )
    return x.astype(np.float64), label


# ---------------------------------------------------------------------------------- text


def load_text(
    path: PathLike,
    *,
    text_column: str = "text",
    label_column: str = "label",
    level: str | None = None,
    val_fraction: float | None = None,
    test_fraction: float | None = None,
    seed: int = SPLIT_SEED,
) -> LanguageModelData | SequenceClassificationData:
    """Read text for language modelling or text classification.

    - A plain text file (any suffix but ``.csv/.tsv/.parquet``): character-level language
      modelling (``level="char"`` default, or ``"word"``); the text is cut into contiguous
      train/val/test parts (default 90/5/5); the vocabulary comes from train.
    - A table with ``text_column`` and ``label_column``: text classification
      (``level="word"`` default, or ``"char"``), seeded stratified split (default 80/10/10),
      vocabulary from train (words seen at least twice).
    """
    path = Path(path)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        return _load_plain_text(path, level or "char", val_fraction, test_fraction)
    fractions = _split_fractions(
        0.1 if val_fraction is None else val_fraction,
        0.1 if test_fraction is None else test_fraction,
    )
    level = _check_level(level or "word")
    table = _Table(path)
    text_col = table.column(text_column, "text")
    label_col = table.column(label_column, "label")
    for column in (text_col, label_col):
        missing = table.frame[column].isna().to_numpy()
        if missing.any():
            row = int(np.flatnonzero(missing)[0])
            raise UserInputError(f"{table.where(row, column)}: missing {column} value")
    label_index, class_names = _classes(
        table.frame[label_col].astype(str).tolist(), f"{table.path}, column {label_col!r}"
    )
    splits = _split_items(label_index, fractions, seed, table.path, "texts")
    data = build.text_classification(
        table.frame[text_col].astype(str).tolist(),
        label_index,
        splits,
        class_names,
        name=path.name,
        level=level,
        min_count=2 if level == "word" else 1,
    )
    summary = (
        f"{path.name}: read {table.rows_read} rows; kept {table.rows_read} texts, "
        f"{len(class_names)} classes, {level}-level vocabulary of {len(data.vocab or [])} "
        f"tokens from train; split train/val/test {len(splits[0])}/{len(splits[1])}/"
        f"{len(splits[2])}"
    )
    return _finish(summary, data)


def _check_level(level: str) -> str:
    if level not in ("char", "word"):
        raise UserInputError(f"level must be 'char' or 'word', got {level!r}")
    return level


def _load_plain_text(
    path: Path, level: str, val_fraction: float | None, test_fraction: float | None
) -> LanguageModelData:
    level = _check_level(level)
    fractions = _split_fractions(
        0.05 if val_fraction is None else val_fraction,
        0.05 if test_fraction is None else test_fraction,
    )
    if not path.exists():
        raise UserInputError(f"{path}: file not found")
    if path.is_dir():
        raise UserInputError(f"{path}: is a folder, expected a text file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise UserInputError(f"{path}, line {line}: not valid UTF-8 text ({err.reason})") from err
    if not text.strip():
        raise UserInputError(f"{path}: file is empty")
    train_end, val_end = chronological_cut(len(text), fractions)
    if min(train_end, val_end - train_end, len(text) - val_end) < 2:
        raise UserInputError(f"{path}: {len(text)} characters are too few to split train/val/test")
    data = build.language_model(
        text[:train_end], text[train_end:val_end], text[val_end:], name=path.name, level=level
    )
    summary = (
        f"{path.name}: read {len(text)} characters; {level}-level vocabulary of "
        f"{len(data.vocab)} tokens from train; split train/val/test {len(data.train)}/"
        f"{len(data.val)}/{len(data.test)} tokens (contiguous)"
    )
    return _finish(summary, data)
