"""Bad input tried by a machine (hypothesis): random CSV files given to the loaders and to
`rnnlab fit` / `rnnlab embed`. Every outcome is a result or a UserInputError (exit 2) with a
one-line message; never another exception, never a partial output directory. The examples are
derandomized (the same ones on every run) and few, to keep CI fast; examples that once failed
are kept as regular tests at the end of this file."""

from __future__ import annotations

import contextlib
import csv
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from yourdata_frames import classification_frame, forecast_frame

from rnnlab.cli import main
from rnnlab.data.user import load_classification_csv, load_forecast_csv
from rnnlab.errors import UserInputError

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TINY = ["--hidden-size", "4", "--epochs", "1", "--device", "cpu"]

NAMES = st.one_of(
    st.sampled_from(["ds", "y", "unique_id", "time", "value", "label", "sequence_id", "t", "x"]),
    st.text(max_size=6),
)
CELLS = st.one_of(
    st.none(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.booleans(),
    st.sampled_from(
        ["2021-01-01", "2021-01-02", "2021-01-03 12:00", "2021-13-45", "1e308", "-1e400", "NaN"]
    ),
)


def _write(rows: list[list[object]]) -> bytes:
    text = io.StringIO()
    csv.writer(text).writerows([["" if c is None else c for c in row] for row in rows])
    return text.getvalue().encode("utf-8", "surrogatepass")


@st.composite
def random_tables(draw) -> bytes:
    """Any header, ragged rows of mixed cells."""
    width = draw(st.integers(1, 5))
    header = draw(st.lists(NAMES, min_size=width, max_size=width))
    rows = draw(st.lists(st.lists(CELLS, max_size=width + 1), max_size=25))
    return _write([header, *rows])


@st.composite
def forecast_tables(draw) -> bytes:
    """Almost a forecasting table: series of daily steps, or times that are duplicated,
    unsorted, missing or text; values that are missing, huge or text."""
    day = st.integers(0, 60).map(lambda d: f"2021-{1 + d // 28:02d}-{1 + d % 28:02d}")
    times = st.one_of(day, st.integers(-5, 60), st.none(), st.just("soon"))
    values = st.floats(-1e6, 1e6)
    clean = draw(st.booleans())  # half the tables have regular steps and no bad cell
    if not clean:
        values = st.one_of(values, st.floats(), st.none(), st.just("x"))
    rows = [["unique_id", "ds", "y", "temp"]]
    for series in draw(st.sampled_from(["a", "ab", "ba"])):
        for i in range(draw(st.integers(15 if clean else 0, 40))):
            t = f"2021-{1 + i // 28:02d}-{1 + i % 28:02d}" if clean else draw(times)
            rows.append([series, t, draw(values), draw(values)])
    return _write(rows)


@st.composite
def classification_tables(draw) -> bytes:
    """Almost a sequence-classification table: ragged sequences, labels that change within a
    sequence, missing and huge values, duplicated steps."""
    rows = [["sequence_id", "t", "x1", "x2", "label"]]
    clean = draw(st.booleans())  # half the tables have no bad cell
    for sid in range(draw(st.integers(12 if clean else 0, 16))):
        label = "uvw"[sid % 3] if clean else draw(st.sampled_from("uvw"))
        for step in range(draw(st.integers(1 if clean else 0, 6))):
            values = st.floats(-1e3, 1e3)
            steps, labels = st.just(step), st.just(label)
            if not clean:
                values = st.one_of(values, st.floats(), st.none())
                steps = st.one_of(steps, st.integers(0, 3), st.none())
                labels = st.one_of(labels, st.sampled_from(["u", "v", ""]))
            rows.append([sid, draw(steps), draw(values), draw(values), draw(labels)])
    return _write(rows)


def _damaged(base):
    """Sometimes empty, cut short, or with bytes that are not UTF-8."""
    return st.tuples(base, st.sampled_from(["as is", "empty", "cut", "latin-1"])).map(
        lambda pair: {
            "as is": pair[0],
            "empty": b"",
            "cut": pair[0][: len(pair[0]) // 2],
            "latin-1": pair[0] + b"\xff\xfe,\xe9t\xe9\n",
        }[pair[1]]
    )


FORECAST_FILES = _damaged(st.one_of(forecast_tables(), random_tables(), st.binary(max_size=80)))
SEQUENCE_FILES = _damaged(
    st.one_of(classification_tables(), random_tables(), st.binary(max_size=80))
)


def _one_line(error: Exception) -> None:
    message = str(error)
    assert message and "\n" not in message, f"not one line: {message!r}"


def _csv(folder: str, content: bytes) -> Path:
    path = Path(folder) / "data.csv"
    path.write_bytes(content)
    return path


@FUZZ
@given(FORECAST_FILES)
def test_load_forecast_csv_gives_data_or_a_one_line_error(content):
    with tempfile.TemporaryDirectory() as folder:
        path = _csv(folder, content)
        for options in ({}, {"target": "y", "time_column": "ds", "horizon": 2, "window": 3}):
            try:
                load_forecast_csv(path, **options)
            except UserInputError as error:
                _one_line(error)


@FUZZ
@given(SEQUENCE_FILES)
def test_load_classification_csv_gives_data_or_a_one_line_error(content):
    with tempfile.TemporaryDirectory() as folder:
        path = _csv(folder, content)
        for options in ({}, {"time_column": "t", "features": ["x1", "x2"]}):
            try:
                load_classification_csv(path, **options)
            except UserInputError as error:
                _one_line(error)


def _run_cli(args: list[str], folder: str) -> None:
    """Exit 0 with a full output directory, or exit 2 with one line and no output at all."""
    out = Path(folder) / "out"
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main([*args, "--out", str(out)])
    event("exit 0" if code == 0 else "exit 2")
    if code == 0:
        assert (out / ".rnnlab").is_file()
    else:
        assert code == 2, err.getvalue()
        lines = [line for line in err.getvalue().splitlines() if "error:" in line]
        assert len(lines) == 1 and lines[0].startswith("rnnlab "), err.getvalue()
        assert not out.exists()
    assert sorted(p.name for p in Path(folder).iterdir()) in (["data.csv"], ["data.csv", "out"])


@settings(FUZZ, max_examples=20)
@given(FORECAST_FILES)
@example(forecast_frame(n=30).to_csv(index=False).encode())  # the success branch, for sure
def test_cli_fit_forecast_on_random_csvs(content):
    with tempfile.TemporaryDirectory() as folder:
        path = _csv(folder, content)
        args = ["fit", "forecast", str(path), "--target", "y", "--time", "ds"]
        _run_cli(
            [*args, "--series-id", "unique_id", "--horizon", "2", "--window", "3", *TINY], folder
        )


@settings(FUZZ, max_examples=20)
@given(SEQUENCE_FILES)
@example(classification_frame().rename(columns={"sid": "sequence_id"}).to_csv(index=False).encode())
def test_cli_embed_on_random_csvs(content):
    with tempfile.TemporaryDirectory() as folder:
        path = _csv(folder, content)
        args = [
            "embed",
            str(path),
            "--sequence-id",
            "sequence_id",
            "--time",
            "t",
            "--label",
            "label",
        ]
        args += TINY
        _run_cli(args, folder)


# -- examples that once failed (kept as regular tests) ----------------------------------------


def test_unparsable_csv_message_is_one_line(tmp_path):
    """pandas' ParserError ends with a newline; the message used to carry it (found by
    hypothesis: ``ds / "" / ,`` with CRLF line ends)."""
    path = _csv(str(tmp_path), b'ds\r\n""\r\n,\r\n')
    for load in (load_forecast_csv, load_classification_csv):
        with pytest.raises(UserInputError, match="cannot parse the file") as caught:
            load(path)
        _one_line(caught.value)


def test_column_names_with_line_breaks_keep_the_message_on_one_line(tmp_path):
    """A header cell with a line break in it was listed raw in "not found. Columns: ..."
    (found by hypothesis: a header ``"0\\n0"``)."""
    path = _csv(str(tmp_path), b'"0\n0",y\n1,2\n')
    with pytest.raises(UserInputError, match=r"Columns: '0\\n0', y") as caught:
        load_forecast_csv(path, time_column="time")
    _one_line(caught.value)
