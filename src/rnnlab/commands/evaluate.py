"""``rnnlab evaluate MODEL_DIR DATA``: backtest a forecaster or score a classifier vs baselines."""

from __future__ import annotations

import argparse

from rnnlab.estimators.cli_options import add_timezone_option, apply_timezone, check_freq, say


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``evaluate``."""
    parser = sub.add_parser(
        "evaluate",
        help="backtest a forecaster (vs naive, seasonal naive, ARIMA) or score a classifier "
        "(vs logistic regression)",
        description="Forecasters: rolling-origin backtest with an expanding window; the "
        "network is refitted on each fold's training data with its saved settings (use "
        "--no-refit to score the saved weights as they are). Classifiers: accuracy, macro-F1 "
        "and a confusion matrix on DATA.",
    )
    parser.add_argument("model_dir", help="directory written by `rnnlab fit`")
    parser.add_argument("data", help="CSV or Parquet file with the training columns")
    parser.add_argument("--folds", type=int, default=3, help="rolling origins (forecasting)")
    parser.add_argument(
        "--no-refit",
        action="store_true",
        help="forecasting: do not retrain per fold (faster; optimistic if the folds overlap "
        "the training period)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="forecasting: networks trained per fold (seeds seed, seed+1, ...); the table shows "
        "each, their average forecast and the spread",
    )
    parser.add_argument("--fill", choices=["ffill", "interpolate", "zero"], default=None)
    parser.add_argument(
        "--freq",
        default=None,
        help="forecasting: frequency of DATA if it cannot be inferred (must be the model's)",
    )
    add_timezone_option(parser, saved=True)
    parser.add_argument(
        "--out", default=None, help="directory for tables and plots (written only on success)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate, print the table and verdicts, write ``--out`` if asked."""
    from rnnlab.estimators import load
    from rnnlab.estimators.report import evaluate

    estimator = load(args.model_dir)
    check_freq(estimator, args.freq)
    apply_timezone(estimator, args.tz)
    evaluation = evaluate(
        estimator,
        args.data,
        folds=args.folds,
        refit=not args.no_refit,
        fill=args.fill,
        seeds=args.seeds,
    )
    print(evaluation.render())
    if args.out is not None:
        say(f"wrote {evaluation.save(args.out)}")
    return 0
