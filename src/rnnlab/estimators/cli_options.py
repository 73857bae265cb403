"""Argument helpers shared by the your-data commands (fit, predict, evaluate, embed, cluster).

Lives here, not in :mod:`rnnlab.commands`, whose every module must be a command.
"""

from __future__ import annotations

import argparse
import sys


def csv_list(text: str) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]`` (empty items dropped)."""
    return [item.strip() for item in text.split(",") if item.strip()]


def float_list(text: str) -> list[float]:
    """``"0.1,0.9"`` -> ``[0.1, 0.9]``; argparse reports a bad item by name."""
    try:
        return [float(item) for item in csv_list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers such as 0.1,0.5,0.9; got {text!r}"
        ) from None


def say(message: str) -> None:
    """One status line on stderr (stdout stays for results)."""
    print(message, file=sys.stderr)


def add_training_options(parser: argparse.ArgumentParser, *, default_model: str = "gru") -> None:
    """Model size, training and output options every training command shares."""
    parser.add_argument("--model", default=default_model, help="encoder: lstm, gru, bilstm, tcn…")
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--num-layers", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--patience", type=int, default=3, help="early-stopping patience (epochs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1…")
    parser.add_argument(
        "--fill",
        choices=["ffill", "interpolate", "zero"],
        default=None,
        help="accept NaN/Inf and gaps by filling them (default: refuse)",
    )
    parser.add_argument("--out", required=True, help="output directory (written atomically)")


def check_freq(estimator: object, freq: str | None) -> None:
    """``--freq`` of predict/evaluate: the data are read on the model's frequency grid, so a
    different one is an error (the model's seasons and calendar depend on it)."""
    import pandas as pd

    from rnnlab.errors import UserInputError

    trained = getattr(estimator, "freq_", None)
    if freq is None or getattr(estimator, "kind", None) != "forecast":
        return
    try:
        given = pd.tseries.frequencies.to_offset(freq)
    except ValueError as err:
        raise UserInputError(f"unknown frequency {freq!r}: {err}") from None
    if trained is None or given != pd.tseries.frequencies.to_offset(trained):
        raise UserInputError(
            f"--freq {freq} differs from the model's frequency {trained!r}; the data must be "
            "on the frequency the model was trained on"
        )


def add_timezone_option(parser: argparse.ArgumentParser, *, saved: bool) -> None:
    """``--tz``: the time zone of local clock times (``saved``: the model's is the default)."""
    default = "default: the zone the model was fitted with" if saved else "saved with the model"
    parser.add_argument(
        "--tz",
        default=None,
        metavar="ZONE",
        help="forecasting: IANA time zone of times written as local clock times with "
        "daylight-saving time, e.g. Europe/Berlin: the skipped and the repeated hour when "
        "the clocks change then keep a regular grid, and forecast times are written in "
        f"that zone with their UTC offsets ({default})",
    )


def apply_timezone(estimator: object, zone: str | None) -> None:
    """``--tz`` of predict/evaluate: read the data in ``zone`` instead of the model's zone."""
    from rnnlab.errors import UserInputError

    if zone is None:
        return
    if getattr(estimator, "kind", None) != "forecast":
        raise UserInputError("--tz is for forecasting models only")
    estimator.timezone = zone
