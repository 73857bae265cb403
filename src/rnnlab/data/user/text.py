"""Text corpora for language modelling: plain files or a text column."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnlab.data import build
from rnnlab.data.containers import LanguageModelData, SequenceClassificationData
from rnnlab.data.splits import SPLIT_SEED, chronological_cut
from rnnlab.data.user.classification import _classes, _split_fractions, _split_items
from rnnlab.data.user.tables import TABLE_SUFFIXES, PathLike, _finish, _Table
from rnnlab.errors import UserInputError


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
