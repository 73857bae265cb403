"""``rnnlab fit forecast|classify DATA --out MODEL_DIR``: train an estimator on a CSV."""

from __future__ import annotations

import argparse
import logging
import sys

from rnnlab.estimators.cli_options import (
    add_timezone_option,
    add_training_options,
    csv_list,
    float_list,
    say,
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``fit`` with its two tasks, ``forecast`` and ``classify``."""
    parser = sub.add_parser(
        "fit",
        help="train a forecaster or classifier on your CSV and save it as a model directory",
        description="Train on your CSV/Parquet file; the model directory is written only if "
        "training succeeds.",
    )
    tasks = parser.add_subparsers(dest="task", metavar="TASK", required=True)

    forecast = tasks.add_parser("forecast", help="multi-step forecasting with quantiles")
    forecast.add_argument("data", help="CSV or Parquet file")
    forecast.add_argument("--target", required=True, help="column(s) to forecast, comma-separated")
    forecast.add_argument("--time", required=True, help="time column")
    forecast.add_argument("--series-id", default=None, help="series column (long format)")
    forecast.add_argument("--covariates", type=csv_list, default=[], help="past-only covariates")
    forecast.add_argument(
        "--future-covariates", type=csv_list, default=[], help="covariates known in advance"
    )
    forecast.add_argument(
        "--static",
        type=csv_list,
        default=[],
        help="numeric columns constant within each series (static covariates)",
    )
    forecast.add_argument("--freq", default=None, help="pandas frequency (default: inferred)")
    add_timezone_option(forecast, saved=False)
    forecast.add_argument("--horizon", type=int, default=24, help="steps to forecast")
    forecast.add_argument(
        "--window",
        type=int,
        default=None,
        help="input steps (default: the longest season the frequency implies that the data "
        "holds, e.g. 336 for half-hours, at least 2 × horizon)",
    )
    forecast.add_argument(
        "--scaling",
        choices=["window", "global"],
        default="window",
        help="window: each input window on its own mean and scale (robust to trends and "
        "level shifts); global: one scaler per series fitted on the training data",
    )
    forecast.add_argument(
        "--baseline",
        choices=["auto", "seasonal", "linear", "none"],
        default="auto",
        help="seasonal: the network corrects the best seasonal naive forecast (chosen on the "
        "training data; naive when no season helps); linear: that plus a linear map of the "
        "window fitted by ridge regression; auto (default): linear when the season chosen is "
        "not naive, else seasonal; none: it forecasts the values directly",
    )
    forecast.add_argument(
        "--seasonal-inputs",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="give the network the naive forecasts of the other seasons (and of the last "
        "value) as inputs for every horizon step",
    )
    forecast.add_argument(
        "--calendar",
        default="none",
        metavar="auto|none|NAMES",
        help="calendar features as inputs for every input and horizon step (sin/cos pairs "
        "computed from the timestamps; predict needs no future rows for them): auto = those "
        "the frequency implies (hourly: time of day, day of week; daily: day of week, day of "
        "year; weekly: week of year; monthly: month of year; quarterly: quarter), or "
        "comma-separated names among time_of_day, day_of_week, day_of_year, week_of_year, "
        "month_of_year, quarter_of_year. Default none (no consistent gain in the backtests of "
        "docs/your-data.md)",
    )
    forecast.add_argument(
        "--val-size",
        type=int,
        default=None,
        help="last steps per series kept for early stopping and the naive check (default "
        "3 × horizon); the network trains on everything before them",
    )
    forecast.add_argument(
        "--windows-per-epoch",
        type=int,
        default=1024,
        help="training windows drawn per epoch (0: all)",
    )
    forecast.add_argument(
        "--head", choices=["direct", "seq2seq"], default="direct", help="output head"
    )
    forecast.add_argument(
        "--quantiles",
        type=float_list,
        default=[0.1, 0.5, 0.9],
        help="quantile levels for the prediction interval (0.5 is always added)",
    )
    forecast.add_argument(
        "--no-calibrate-intervals",
        dest="calibrate_intervals",
        action="store_false",
        help="keep the network's quantiles as trained (default: calibrate each interval on "
        "the validation windows by conformalized quantile regression)",
    )
    add_training_options(forecast)
    forecast.set_defaults(func=run)

    classify = tasks.add_parser("classify", help="one label per variable-length sequence")
    classify.add_argument("data", help="CSV or Parquet file in long format")
    classify.add_argument("--sequence-id", required=True, help="sequence column")
    classify.add_argument("--time", required=True, help="column that orders the steps")
    classify.add_argument("--label", required=True, help="label column (constant per sequence)")
    classify.add_argument(
        "--features", type=csv_list, default=None, help="feature columns (default: all others)"
    )
    add_training_options(classify)
    classify.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Fit, then save atomically to ``--out``."""
    from rnnlab.compare.plan import check_models
    from rnnlab.compare.runner import encoder_name
    from rnnlab.estimators import Classifier, Forecaster
    from rnnlab.modelfile import check_output_dir

    check_models([args.model])  # the names compare accepts, with a "did you mean"
    check_output_dir(args.out)  # refuse a user's folder before training, not after
    common = {
        "model": encoder_name(args.model),
        "hidden_size": args.hidden_size,
        "num_layers": args.num_layers,
        "epochs": args.epochs,
        "lr": args.lr,
        "batch_size": args.batch_size,
        "patience": args.patience,
        "seed": args.seed,
        "device": args.device,
        "fill": args.fill,
        "progress": True,
    }
    if args.task == "forecast":
        estimator = Forecaster(
            horizon=args.horizon,
            window=args.window,
            head=args.head,
            quantiles=tuple(args.quantiles),
            target=args.target,
            time=args.time,
            series_id=args.series_id,
            covariates=tuple(args.covariates),
            future_covariates=tuple(args.future_covariates),
            static=tuple(args.static),
            freq=args.freq,
            timezone=args.tz,
            scaling=args.scaling,
            baseline=args.baseline,
            seasonal_inputs=args.seasonal_inputs,
            calendar=args.calendar,
            val_size=args.val_size,
            calibrate_intervals=args.calibrate_intervals,
            windows_per_epoch=args.windows_per_epoch or None,
            **common,
        )
    else:
        estimator = Classifier(
            sequence_id=args.sequence_id,
            time=args.time,
            label=args.label,
            features=None if args.features is None else tuple(args.features),
            **common,
        )
    # The loader logs its summary (rows read, kept, sorted, filled) as it reads the file:
    # shown then, before training starts, so nothing is silent while the bar runs.
    loader_log = logging.getLogger("rnnlab.data.user")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    loader_log.addHandler(handler)
    level, loader_log.level = loader_log.level, logging.INFO
    try:
        estimator.fit(args.data)
    finally:
        loader_log.removeHandler(handler)
        loader_log.setLevel(level)
    path = estimator.save(args.out)
    say(f"saved {path} ({estimator.summary_line()})")
    if getattr(estimator, "warning_", None):
        say(estimator.warning_)  # last, so it is not missed
    return 0
