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

One module per kind of data: :mod:`~rnnlab.data.user.tables` (what every reader shares),
:mod:`~rnnlab.data.user.forecasting`, :mod:`~rnnlab.data.user.classification` and
:mod:`~rnnlab.data.user.text`; everything public is importable from here.
"""

from rnnlab.data.user.classification import (
    SequenceRows,
    load_classification_arrays,
    load_classification_csv,
    read_sequence_rows,
)
from rnnlab.data.user.forecasting import (
    ForecastRows,
    load_forecast_csv,
    read_forecast_rows,
    season_length_for,
    season_lengths_for,
)
from rnnlab.data.user.tables import (
    FILL_METHODS,
    ORDER_CANDIDATES,
    SERIES_CANDIDATES,
    TABLE_SUFFIXES,
    TARGET_CANDIDATES,
    TIME_CANDIDATES,
    PathLike,
    Source,
    table_columns,
)
from rnnlab.data.user.text import load_text

__all__ = [
    "FILL_METHODS",
    "ORDER_CANDIDATES",
    "SERIES_CANDIDATES",
    "TABLE_SUFFIXES",
    "TARGET_CANDIDATES",
    "TIME_CANDIDATES",
    "ForecastRows",
    "PathLike",
    "SequenceRows",
    "Source",
    "load_classification_arrays",
    "load_classification_csv",
    "load_forecast_csv",
    "load_text",
    "read_forecast_rows",
    "read_sequence_rows",
    "season_length_for",
    "season_lengths_for",
    "table_columns",
]
