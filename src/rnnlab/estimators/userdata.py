"""Reading the user's data through :mod:`rnnlab.data.user`, from a file or a DataFrame.

Fitting uses the loaders of :mod:`rnnlab.data.user` (they also split the data); they read
files only, so :func:`table_path` writes a DataFrame to a temporary Parquet file for them.
Forecasting at prediction time uses :func:`rnnlab.data.user.read_forecast_rows`. Sequences
without a split, possibly without labels (classifier prediction, embedding) are read by
:func:`read_sequence_rows`, built from the loaders' own table checks (``_Table``: missing
columns with suggestions, non-numeric cells, NaN/Inf, unparseable times) until
:mod:`rnnlab.data.user` has a public reader for them, so every path reports problems with the
same file/row/column messages.
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
    table = (
        user._Table("DataFrame", source)
        if isinstance(source, pd.DataFrame)
        else user._Table(source)
    )
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
