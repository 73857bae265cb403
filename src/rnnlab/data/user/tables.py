"""What every reader of user data shares: opening a file or DataFrame, naming places in
it in messages, numeric columns, filling, sorting and the one-line summary."""

from __future__ import annotations

import difflib
import logging
import os
import warnings
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

import numpy as np
import pandas as pd

from rnnlab.errors import UserInputError

# One logger for the whole package: users filter on "rnnlab.data.user".
log = logging.getLogger("rnnlab.data.user")

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
    03/02 is a daily series day first, a monthly one month first); year-first dates are
    read year-month-day. Times whose UTC offsets change (daylight saving) are read in UTC.
    Parsing each cell on its own would read 05/01 as May 1 and 13/01 as January 13 in the
    same file."""
    readings = []
    # Year first (ISO 8601, 2010-02-01) is never day first; reading it so would turn monthly
    # dates into a "more regular" daily grid.
    year_first = raw.astype(str).str.match(r"\s*\d{4}[-/.]").all()
    for dayfirst in (False,) if year_first else (False, True):
        with warnings.catch_warnings(), suppress(ValueError, TypeError, OverflowError):
            warnings.simplefilter("ignore", UserWarning)  # pandas' "could not infer format"
            warnings.simplefilter("ignore", FutureWarning)  # pandas 2 on mixed offsets
            reading = pd.to_datetime(raw, dayfirst=dayfirst)
            # pandas 2 reads mixed UTC offsets as objects (pandas 3 refuses them): UTC below.
            if pd.api.types.is_datetime64_any_dtype(reading):
                readings.append(reading)
    if not readings:
        with suppress(ValueError, TypeError, OverflowError):
            # UTC offsets that change over the year (daylight saving time: +01:00 in winter,
            # +02:00 in summer) are one regular grid in UTC.
            return pd.to_datetime(raw, utc=True, format="mixed")
        return pd.to_datetime(raw, errors="coerce", format="mixed")
    return min(readings, key=_distinct_spacings)  # min keeps the first (month first) on ties


def _distinct_spacings(times: pd.Series) -> int:
    return len(np.unique(np.diff(np.sort(times.dropna().to_numpy()))))
