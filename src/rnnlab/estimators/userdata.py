"""Reading the user's data for prediction and embedding, through :mod:`rnnlab.data.user`.

Fitting uses the loaders of :mod:`rnnlab.data.user` directly (they also split the data).
Prediction needs the same checks without a split, possibly without labels, and against what
the model was trained on; this module assembles that from the loaders' own table checks
(``_Table``: missing columns with suggestions, non-numeric cells, NaN/Inf, unparseable times;
``_regularize``: duplicate timestamps, gaps, off-grid times), so every path reports problems
with the same file/row/column messages. DataFrames are accepted everywhere: they are written
to a temporary Parquet file named ``dataframe.parquet`` first.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnnlab.data import user
from rnnlab.errors import UserInputError

Source = str | os.PathLike[str] | pd.DataFrame


@contextmanager
def table_path(source: Source) -> Iterator[Path]:
    """The path of ``source``; a DataFrame is written to a temporary Parquet file."""
    if not isinstance(source, pd.DataFrame):
        yield Path(source)
        return
    with tempfile.TemporaryDirectory(prefix="rnnlab-") as folder:
        path = Path(folder) / "dataframe.parquet"
        frame = source.copy()
        frame.columns = [str(c) for c in frame.columns]
        frame.to_parquet(path, index=False)
        yield path


def _check_columns(table: user._Table, needed: Sequence[str]) -> None:
    missing = [c for c in needed if c not in table.frame.columns]
    if missing:
        raise UserInputError(
            f"{table.path}: the model was trained with column(s) {', '.join(needed)}; missing "
            f"here: {', '.join(missing)} (columns present: {', '.join(table.frame.columns)})"
        )


def read_forecast_rows(
    source: Source,
    *,
    time: str,
    targets: Sequence[str],
    series_id: str | None,
    covariates: Sequence[str],
    future_covariates: Sequence[str],
    freq: str | None,
    fill: str | None,
    allow_future_rows: bool,
) -> pd.DataFrame:
    """Validated, sorted rows of a forecasting table with the training columns.

    The frequency must equal ``freq`` (the training frequency). With ``allow_future_rows``
    each series may end with rows whose targets are empty (the horizon's future covariates);
    anywhere else an empty target is an error unless ``fill``.
    """
    user._check_fill(fill)
    with table_path(source) as path:
        table = user._Table(path)
        needed = [*([series_id] if series_id else []), time, *targets, *covariates]
        needed += list(future_covariates)
        _check_columns(table, needed)
        frame = table.numeric(targets, allow_missing=allow_future_rows or fill is not None)
        past = table.numeric(covariates, allow_missing=allow_future_rows or fill is not None)
        ahead = table.numeric(future_covariates, allow_missing=fill is not None)
        frame = pd.concat([frame, past, ahead], axis=1)
        frame[time] = user._parse_time(table, time)
        if series_id is not None:
            frame[series_id] = table.frame[series_id].astype(str)
        keys = [series_id, time] if series_id else [time]
        frame, _ = user._sort(frame, keys)
        groups = (
            [(str(k), g) for k, g in frame.groupby(series_id, sort=True)]
            if series_id
            else [("", frame)]
        )
        step = None
        if freq is not None:
            if not pd.api.types.is_datetime64_any_dtype(frame[time]):
                raise UserInputError(
                    f"{table.where(column=time)}: the model was trained on timestamps with "
                    f"frequency {freq!r}, but this column holds plain numbers"
                )
            found = user._infer_freq([g[time] for _, g in groups])
            if found is not None and _offset(found) != _offset(freq):
                raise UserInputError(
                    f"{table.where(column=time)}: the data has frequency {found!r}, but the "
                    f"model was trained on frequency {freq!r}"
                )
        else:
            diffs = np.concatenate([np.diff(g[time].to_numpy()) for _, g in groups])
            positive = diffs[diffs > 0]
            step = float(pd.Series(positive).mode().iloc[0]) if positive.size else None
        features = [*targets, *covariates, *future_covariates]
        parts = []
        for sid, group in groups:
            label = f" in series {sid!r}" if series_id else ""
            group, _ = user._regularize(table, group, time, label, freq, step, fill)
            group = group.copy()
            n_ahead = _trailing_empty(group[list(targets)]) if allow_future_rows else 0
            observed = slice(0, len(group) - n_ahead)
            if fill is not None:
                group.iloc[observed, group.columns.get_indexer(features)] = user._fill(
                    group[features].iloc[observed], fill
                ).to_numpy()
            holes = group[list(targets)].iloc[observed].isna().any(axis=1).to_numpy()
            if holes.any():
                row = int(group.index[np.flatnonzero(holes)[0]])
                raise UserInputError(
                    f"{table.where(row)}: missing target value{label} before the end of the "
                    "series; pass fill='ffill'|'interpolate'|'zero' (--fill) to fill it"
                )
            if series_id:
                group[series_id] = sid
            parts.append(group)
        return pd.concat(parts, ignore_index=True)


def _trailing_empty(targets: pd.DataFrame) -> int:
    empty = targets.isna().all(axis=1).to_numpy()[::-1]
    return len(empty) if empty.all() else int(np.argmin(empty))


def _offset(freq: str) -> pd.DateOffset:
    return pd.tseries.frequencies.to_offset(freq)


@dataclass
class SequenceRows:
    """Variable-length sequences read from a long table, in sorted sequence-id order."""

    ids: list[str]
    sequences: list[np.ndarray]  # each (T_i, n_features), float64, unscaled
    labels: list[str] | None
    features: list[str]


def read_sequence_rows(
    source: Source,
    *,
    sequence_id: str,
    time: str | None,
    features: Sequence[str] | None,
    label: str | None,
    fill: str | None,
) -> SequenceRows:
    """Sequences of a long-format table (labels optional), with the loader's checks.

    ``features`` None takes every column except the id, time and label columns.
    """
    user._check_fill(fill)
    with table_path(source) as path:
        table = user._Table(path)
        seq_col = table.column(sequence_id, "sequence id")
        label_col = None if label is None else table.column(label, "label")
        order_col = None if time is None else table.column(time, "time/order")
        reserved = {seq_col, label_col, order_col}
        if features is None:
            features = [c for c in table.frame.columns if c not in reserved]
        else:
            _check_columns(table, [seq_col, *([order_col] if order_col else []), *features])
        features = list(features)
        if not features:
            raise UserInputError(f"{table.path}: no feature columns")
        values = table.numeric(features, allow_missing=fill is not None)
        values["_seq"] = table.frame[seq_col].astype(str)
        keys = ["_seq"]
        if order_col is not None:
            values["_order"] = user._parse_time(table, order_col)
            keys.append("_order")
        if label_col is not None:
            values["_label"] = table.frame[label_col].astype(str)
        values, _ = user._sort(values, keys)
        ids, sequences, labels = [], [], []
        for sid, group in values.groupby("_seq", sort=True):
            if order_col is not None:
                duplicated = group["_order"].duplicated().to_numpy()
                if duplicated.any():
                    row = int(group.index[np.flatnonzero(duplicated)[0]])
                    raise UserInputError(
                        f"{table.where(row, order_col)}: duplicate time "
                        f"{group['_order'].loc[row]} in sequence {sid!r}"
                    )
            if label_col is not None:
                distinct = group["_label"].unique()
                if len(distinct) > 1:
                    row = int(group.index[(group["_label"] != distinct[0]).to_numpy()][0])
                    raise UserInputError(
                        f"{table.where(row, label_col)}: label changes within sequence {sid!r}"
                    )
                labels.append(str(distinct[0]))
            steps = group[features]
            if fill is not None:
                steps = user._fill(steps, fill).fillna(0.0)
            ids.append(str(sid))
            sequences.append(steps.to_numpy(np.float64))
        return SequenceRows(ids, sequences, labels if label_col else None, features)
