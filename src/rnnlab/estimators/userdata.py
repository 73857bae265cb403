"""Reading the user's data for the estimators: a file or a DataFrame.

Every reader lives in :mod:`rnnlab.data.user` and accepts either: fitting uses its loaders
(which also split the data), forecasting at prediction time
:func:`~rnnlab.data.user.read_forecast_rows`, and sequences without a split, possibly without
labels (classifier prediction, embedding), :func:`read_sequence_rows` below, so every path
reports problems with the same file/row/column messages.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import pandas as pd

from rnnlab.data import user
from rnnlab.data.user import SequenceRows

Source = str | os.PathLike[str] | pd.DataFrame

__all__ = ["SequenceRows", "Source", "read_sequence_rows"]


def read_sequence_rows(
    source: Source,
    *,
    sequence_id: str,
    time: str | None,
    features: Sequence[str] | None,
    label: str | None,
    fill: str | None,
) -> SequenceRows:
    """:func:`rnnlab.data.user.read_sequence_rows` with the estimators' argument names."""
    return user.read_sequence_rows(
        source,
        sequence_column=sequence_id,
        time_column=time,
        features=None if features is None else list(features),
        label_column=label,
        fill=fill,
    )
