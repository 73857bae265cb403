"""``rnnlab predict MODEL_DIR DATA --out FILE``: forecasts or class predictions as a tidy CSV."""

from __future__ import annotations

import argparse

from rnnlab.estimators.cli_options import add_timezone_option, apply_timezone, check_freq, say


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``predict``."""
    parser = sub.add_parser(
        "predict",
        help="predict with a saved model: tidy forecast CSV (point + quantiles) or class labels",
        description="Forecast models write one row per (series, time) with the point forecast "
        "and one column per quantile; classifiers write one row per sequence.",
    )
    parser.add_argument("model_dir", help="directory written by `rnnlab fit`")
    parser.add_argument("data", help="CSV or Parquet file with the same columns as in training")
    parser.add_argument("--out", required=True, help="output CSV (written only on success)")
    parser.add_argument("--plot", default=None, help="forecasts: PNG of history + forecast")
    parser.add_argument("--fill", choices=["ffill", "interpolate", "zero"], default=None)
    parser.add_argument(
        "--freq",
        default=None,
        help="forecasts: frequency of DATA if it cannot be inferred (must be the model's)",
    )
    add_timezone_option(parser, saved=True)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the model, predict, write ``--out`` (and ``--plot``) atomically."""
    from rnnlab.estimators import load
    from rnnlab.estimators.report import write_predictions

    estimator = load(args.model_dir)
    check_freq(estimator, args.freq)
    apply_timezone(estimator, args.tz)
    if getattr(estimator, "warning_", None):
        say(f"note from fit: {estimator.warning_}")
    written = write_predictions(estimator, args.data, args.out, plot=args.plot, fill=args.fill)
    say(f"wrote {', '.join(map(str, written))}")
    return 0
