"""Sequence classification: long-format tables and per-item array files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from rnnlab.data import build
from rnnlab.data.containers import SequenceClassificationData
from rnnlab.data.splits import SPLIT_SEED, stratified_split
from rnnlab.data.user.tables import (
    ORDER_CANDIDATES,
    PathLike,
    _check_fill,
    _fill,
    _finish,
    _open,
    _parse_time,
    _sort,
    _Table,
    log,
)
from rnnlab.errors import UserInputError


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
