"""rnnlab.data: synthetic tasks, real offline datasets and the user's own files.

- :mod:`rnnlab.data.containers`: the containers every loader returns (``Batch``,
  ``SequenceSet``, ``SequenceClassificationData``, ``ForecastData``, ``LanguageModelData``,
  ``MusicData``).
- :mod:`rnnlab.data.synthetic`: ``make_task(name, length, seed=...)``.
- :mod:`rnnlab.data.datasets`: ``load(name)`` and ``available()``.
- :mod:`rnnlab.data.user`: ``load_forecast_csv``, ``load_classification_csv``, ``load_text``.
"""

from rnnlab.data.containers import (
    Batch,
    Dataset,
    ForecastData,
    ForecastScaler,
    ForecastWindows,
    LanguageModelData,
    MusicData,
    SequenceClassificationData,
    SequenceSet,
)
from rnnlab.data.synthetic import SyntheticTask, make_task

__all__ = [
    "Batch",
    "Dataset",
    "ForecastData",
    "ForecastScaler",
    "ForecastWindows",
    "LanguageModelData",
    "MusicData",
    "SequenceClassificationData",
    "SequenceSet",
    "SyntheticTask",
    "make_task",
]
