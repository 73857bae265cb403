"""Evaluation and prediction outputs of fitted estimators (what ``evaluate`` and ``predict``
print and write).

Forecasters are backtested with rolling origins (:mod:`rnnlab.estimators.backtest`) against
the naive forecast, the seasonal naive forecast of every season the frequency implies (and
the best of them, chosen on each fold's training part), ETS, Theta, a DLinear-style linear
map and a non-seasonal ARIMA on the same folds; by default the network is refitted on each
fold's training data with its saved settings, so no fold is scored by a model that saw its
test window. Classifiers are scored on the given data against a logistic regression on
per-channel summary statistics, trained on the same training split.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnnlab.errors import UserInputError
from rnnlab.estimators.base import Estimator
from rnnlab.modelfile import atomic_directory, atomic_file

# -- forecasting ---------------------------------------------------------------------------


@dataclass
class ForecastEvaluation:
    """Backtest of a forecaster and its baselines.

    Attributes:
        scores: one row per (method, series, fold) with MAE, RMSE, sMAPE and MASE.
        per_series: metrics averaged over folds, per (method, series).
        overall: metrics averaged over series, per method (index), best MASE first.
        verdicts: one sentence per baseline: does the network beat it on MASE?
        model: the network's method name in the tables.
        folds, horizon, refit: how the backtest was run.
        mase_season: the season ``m`` of the MASE scale.
        notes: lines printed under the table (interval coverage, spread over seeds).
    """

    scores: pd.DataFrame
    per_series: pd.DataFrame
    overall: pd.DataFrame
    verdicts: list[str]
    model: str
    folds: int
    horizon: int
    refit: bool
    mase_season: int = 1
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        """The overall table, the per-series table (if several series) and the verdicts."""
        how = "refitted per fold" if self.refit else "saved weights, not refitted"
        lines = [
            f"Backtest: {self.folds} rolling origins (expanding window), horizon {self.horizon}, "
            f"{self.model} {how}; MASE scaled by the in-sample seasonal naive MAE with "
            f"m={self.mase_season}",
            "",
            self.overall.to_string(float_format=lambda v: f"{v:.4g}"),
        ]
        if self.per_series["series"].nunique() > 1:
            table = self.per_series.set_index(["series", "method"]).sort_index()
            lines += ["", "Per series:", table.to_string(float_format=lambda v: f"{v:.4g}")]
        lines += ["", *self.notes, *self.verdicts]
        return "\n".join(lines)

    def save(self, out: str | os.PathLike[str]) -> Path:
        """Write the tables (CSV), the verdicts and a bar plot of MASE to ``out``."""
        with atomic_directory(out) as staging:
            self.scores.to_csv(staging / "scores.csv", index=False)
            self.per_series.to_csv(staging / "per_series.csv", index=False)
            self.overall.to_csv(staging / "overall.csv")
            (staging / "report.txt").write_text(self.render() + "\n")
            _mase_plot(self.scores, list(self.overall.index), staging / "mase.png", self.model)
        return Path(out)


def _mase_plot(scores: pd.DataFrame, methods: list[str], path: Path, model: str) -> None:
    """Mean MASE per method (bar) with every fold and series as a dot (the spread), and the
    MASE = 1 line: the in-sample seasonal-naive error every method is scaled by. The
    network's bars (``model`` and its seeds) are outlined and named in bold, so it stands
    out among the baselines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rnnlab.report.palette import CHANCE, model_colours

    colours = model_colours(methods)

    def ours(method: str) -> bool:
        return method == model or method.startswith(f"{model} seed")

    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(methods) + 2), 3.6))
    jitter = np.random.default_rng(0)
    for i, method in enumerate(methods):
        values = scores.loc[scores["method"] == method, "mase"].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        if not values.size:
            continue
        ax.bar(i, values.mean(), 0.6, color=colours[method], alpha=0.45,
               edgecolor="black" if ours(method) else "none", linewidth=1.5)  # fmt: skip
        ax.scatter(
            i + jitter.uniform(-0.15, 0.15, values.size), values, s=16,
            color=colours[method], edgecolors="none", zorder=3,
        )  # fmt: skip
    ax.axhline(1.0, color=CHANCE, linestyle="--", linewidth=1,
               label="MASE = 1 (in-sample seasonal naive)")  # fmt: skip
    ax.set_xticks(range(len(methods)), methods, rotation=20, ha="right")
    for label in ax.get_xticklabels():
        if ours(label.get_text()):
            label.set_fontweight("bold")
    ax.set_ylabel("MASE (lower is better)")
    ax.set_title("backtest: mean MASE (bars), every fold and series (dots)")
    ax.legend(fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    fig.savefig(path, dpi=200, bbox_inches="tight")
    plt.close(fig)


def backtest_forecaster(
    estimator: Any,
    data: Any,
    *,
    folds: int = 3,
    refit: bool = True,
    fill: str | None = None,
    seeds: int = 1,
) -> ForecastEvaluation:
    """Rolling-origin backtest of a fitted :class:`~rnnlab.estimators.Forecaster` on ``data``.

    With ``refit`` each fold trains a fresh network with the estimator's settings on the
    data before the fold's origin (the last ``val_size`` steps of it for early stopping);
    the first fold then needs ``window + horizon + val_size`` training steps per series.
    Without it the saved network forecasts from each origin (it needs ``window`` steps),
    which is optimistic when the folds fall in its training data. With ``seeds`` > 1 (and
    ``refit``) each fold trains that many networks (seeds ``seed``, ``seed + 1``, ...): the
    model's row is their average forecast, each seed gets its own row, and a note gives the
    spread. The share of actuals inside the model's widest quantile interval (80 % by
    default) is measured over every fold, with the number of fits whose intervals were
    calibrated (:mod:`rnnlab.estimators.intervals`).
    """
    from rnnlab.data.user import season_lengths_for
    from rnnlab.estimators.backtest import backtest, summarize, verdicts

    estimator._check_fitted()
    if fill is not None:
        estimator.fill = fill
    if int(seeds) < 1:
        raise UserInputError(f"--seeds must be a positive integer; got {seeds}")
    seeds = int(seeds) if refit else 1
    frame = estimator._predict_frame(data)
    cols = estimator.columns_
    groups = dict(estimator._groups(frame))
    for part in groups.values():
        if part[cols["targets"]].isna().any(axis=None):
            raise UserInputError(
                "evaluate needs observed targets on every row; remove rows with empty targets"
            )
    keys = {
        (sid, target): sid if len(cols["targets"]) == 1 else f"{sid}/{target}"
        for sid in groups
        for target in cols["targets"]
    }
    series = {key: groups[sid][target].to_numpy(np.float64) for (sid, target), key in keys.items()}
    horizon, window = estimator.horizon, estimator.window_
    m = estimator.season_length_
    name = f"{estimator.model}"
    levels = [float(q) for q in estimator.network_.quantile_levels]
    low, high = (levels[0], levels[-1]) if len(levels) >= 3 else (None, None)
    inside: list[np.ndarray] = []
    fell_back: list[str] = []  # per fit: "network", or the baseline forecast instead
    calibrated: list[bool] = []
    cache: dict[tuple[int, int], dict[str, np.ndarray]] = {}  # (fold origin sum, seed) ->

    static = {
        sid: dict(
            zip(
                estimator.static_["columns"],
                estimator.static_["values"].get(sid, []),
                strict=True,
            )
        )
        for sid in groups
    }

    def fit_and_forecast(origins: dict[str, int], h: int, seed: int) -> pd.DataFrame:
        first_key = {sid: keys[(sid, cols["targets"][0])] for sid in groups}
        history = pd.concat(
            [
                _cut(groups[sid], origins[first_key[sid]], h, estimator).assign(**static[sid])
                for sid in groups
            ]
        )
        model = estimator
        if refit:
            params = {**_refit_params(estimator), "seed": estimator.seed + seed}
            model = type(estimator)(**params).fit(history.dropna(subset=cols["targets"]))
        fell_back.append(getattr(model, "forecast_from_", "network"))
        calibrated.append(bool((getattr(model, "intervals_", None) or {}).get("method")))
        return model.predict(history)

    def per_key(forecast: pd.DataFrame, column: str) -> dict[str, np.ndarray]:
        out = {}
        for (sid, target), key in keys.items():
            rows = (
                forecast
                if cols["series_id"] is None
                else forecast[forecast[cols["series_id"]] == sid]
            )
            out[key] = rows[column.format(target=target)].to_numpy()
        return out

    def network(origins: dict[str, int], h: int) -> dict[str, np.ndarray]:
        from rnnlab.estimators.forecaster import quantile_column

        forecasts = [fit_and_forecast(origins, h, seed) for seed in range(seeds)]
        for seed, forecast in enumerate(forecasts):
            cache[(sum(origins.values()), seed)] = per_key(forecast, "{target}")
        if low is not None:
            bounds = [
                per_key(forecasts[0], quantile_column("{target}", level)) for level in (low, high)
            ]
            for key, origin in origins.items():
                truth = series[key][origin : origin + h]
                inside.append((bounds[0][key] <= truth) & (truth <= bounds[1][key]))
        return {
            key: np.mean([cache[(sum(origins.values()), s)][key] for s in range(seeds)], axis=0)
            for key in origins
        }

    def one_seed(seed: int):
        return lambda origins, h: cache[(sum(origins.values()), seed)]

    shortest = min(len(values) for values in series.values())
    seasons = season_lengths_for(estimator.freq_) or ([m] if m > 1 else [])
    seasons = [season for season in seasons if 2 * season <= shortest]  # seen at least twice
    baselines = _baseline_methods(series, seasons, m, window, horizon)
    methods = {name: network}
    if seeds > 1:
        methods |= {f"{name} seed {estimator.seed + s}": one_seed(s) for s in range(seeds)}
    methods |= {label: method for label, method in baselines.items()}
    min_train = window + horizon + (estimator.val_size or 3 * horizon) if refit else window
    scores = backtest(
        series,
        methods,
        horizon=horizon,
        folds=folds,
        season_length=m,
        min_train=min_train,
        progress=_status if sys.stderr.isatty() else None,
    )
    if sys.stderr.isatty():
        print(file=sys.stderr)  # end the status line
    scores["method"] = scores["method"].map(lambda label: baselines.label(label))
    per_series, overall = summarize(scores)
    notes = []
    if inside:
        share = float(np.concatenate(inside).mean())
        notes.append(
            f"{name}: {share:.0%} of actuals inside its {low:g}–{high:g} quantile interval "
            f"(nominal {high - low:.0%}), over {len(inside)} (series, fold) forecasts; "
            f"conformal-calibrated on the fit's validation windows in {sum(calibrated)} of "
            f"{len(calibrated)} fits"
        )
    baselines_used = Counter(kind for kind in fell_back if kind != "network")
    if baselines_used:
        kinds = ", ".join(f"{_FALLBACK_NAMES[kind]} in {n}" for kind, n in baselines_used.items())
        notes.append(
            f"{name} forecast a baseline instead of the network in "
            f"{sum(baselines_used.values())} of {len(fell_back)} fits ({kinds}): the network "
            "did not beat it on the fit's validation windows"
        )
    if seeds > 1:
        spread = overall.loc[[f"{name} seed {estimator.seed + s}" for s in range(seeds)], "mase"]
        notes.append(
            f"{name} over {seeds} seeds: MASE {spread.mean():.4g} ± {spread.std():.2g} "
            f"(min {spread.min():.4g}, max {spread.max():.4g}); the {name} row averages "
            "their forecasts"
        )
    return ForecastEvaluation(
        scores,
        per_series,
        overall,
        verdicts(overall, name),
        name,
        folds,
        horizon,
        refit,
        mase_season=m,
        notes=notes,
    )


_FALLBACK_NAMES = {"seasonal": "its seasonal naive", "linear": "its linear + seasonal naive"}


class _Baselines(dict):
    """Baseline methods by short name, each also counting its fallbacks to naive so the
    table names them, e.g. ``arima (naive on 3 of 12 fits: fit failed)``."""

    def __init__(self) -> None:
        super().__init__()
        self.titles: dict[str, str] = {}
        self.fallbacks: dict[str, list[str | None]] = {}
        self.chosen: dict[str, list[int]] = {}

    def add(self, short: str, title: str, series: dict[str, np.ndarray], make: Any) -> None:
        self.titles[short] = title
        self.fallbacks[short] = []
        self.chosen[short] = []

        def forecast(origins: dict[str, int], h: int) -> dict[str, np.ndarray]:
            out = {}
            for key, origin in origins.items():
                model = make().fit(series[key][:origin])
                out[key] = model.predict(h)
                self.fallbacks[short].append(getattr(model, "fallback_", None))
                if hasattr(model, "season_"):
                    self.chosen[short].append(model.season_)
            return out

        self[short] = forecast

    def label(self, short: str) -> str:
        """The table name of ``short``: its title, plus its fallbacks or chosen seasons."""
        if short not in self.titles:
            return short
        title, reasons = self.titles[short], self.fallbacks[short]
        failed = [r for r in reasons if r]
        if failed:
            why = ", ".join(sorted(set(failed)))
            return f"{short} (naive on {len(failed)} of {len(reasons)} fits: {why})"
        if self.chosen[short]:
            picked = "/".join(str(v) for v in sorted(set(self.chosen[short])))
            return f"{title} (chose m={picked})"
        return title


def _baseline_methods(
    series: dict[str, np.ndarray], seasons: list[int], m: int, window: int, horizon: int
) -> _Baselines:
    """Every baseline of the backtest table: naive, seasonal naive per season and the best
    of them, ETS and Theta (season ``m``), the window-linear map, ARIMA."""
    from rnnlab.baselines import (
        ETS,
        AutoARIMA,
        BestSeasonalNaive,
        Naive,
        SeasonalNaive,
        Theta,
        WindowLinear,
    )

    methods = _Baselines()
    methods.add("naive", "naive", series, Naive)
    for season in seasons:
        methods.add(
            f"seasonal-naive m={season}",
            f"seasonal-naive m={season}",
            series,
            lambda season=season: SeasonalNaive(season),
        )
    if len(seasons) > 1:
        methods.add(
            "best-seasonal-naive",
            f"best-seasonal-naive of m={'/'.join(map(str, seasons))}",
            series,
            lambda: BestSeasonalNaive(seasons, horizon),
        )
    methods.add("ets", f"ets (damped trend, season {m})", series, lambda: ETS(m))
    methods.add("theta", f"theta (season {m})", series, lambda: Theta(m))
    methods.add(
        "linear", f"linear (DLinear-style, window {window})", series, lambda: WindowLinear(window)
    )
    methods.add(
        "arima", AutoARIMA(season_length=m).label, series, lambda: AutoARIMA(season_length=m)
    )
    return methods


def _status(message: str) -> None:
    print(f"\r\033[Kbacktest {message}", end="", file=sys.stderr, flush=True)


def _cut(part: pd.DataFrame, origin: int, horizon: int, estimator: Any) -> pd.DataFrame:
    """Rows before ``origin``; with future covariates also the next ``horizon`` rows with
    their targets blanked (what a forecaster standing at the origin would know)."""
    history = part.iloc[:origin]
    if not estimator.columns_["future_covariates"]:
        return history
    ahead = part.iloc[origin : origin + horizon].copy()
    ahead[estimator.columns_["targets"]] = np.nan
    return pd.concat([history, ahead])


def _refit_params(estimator: Any) -> dict[str, Any]:
    cols = estimator.columns_
    return {
        **estimator.get_params(),
        "time": cols["time"],
        "target": ",".join(cols["targets"]),
        "series_id": cols["series_id"],
        "covariates": tuple(cols["covariates"]),
        "future_covariates": tuple(cols["future_covariates"]),
        "freq": estimator.freq_,
        "window": estimator.window_,
        "progress": False,
    }


# -- classification ------------------------------------------------------------------------


@dataclass
class ClassificationEvaluation:
    """Scores of a classifier and the logistic-regression baseline on the same sequences."""

    metrics: dict[str, dict[str, float]]
    confusion: np.ndarray
    class_names: list[str]
    model: str
    verdicts: list[str] = field(default_factory=list)

    def render(self) -> str:
        """Metric table, confusion matrix (rows: true, columns: predicted) and verdicts."""
        table = pd.DataFrame(self.metrics).T
        confusion = pd.DataFrame(self.confusion, index=self.class_names, columns=self.class_names)
        return "\n".join(
            [
                table.to_string(float_format=lambda v: f"{v:.4f}"),
                "",
                f"Confusion matrix of {self.model} (rows: true class, columns: predicted):",
                confusion.to_string(),
                "",
                *self.verdicts,
            ]
        )

    def save(self, out: str | os.PathLike[str]) -> Path:
        """Write ``metrics.json``, ``confusion.csv``, ``confusion.png`` and ``report.txt``."""
        with atomic_directory(out) as staging:
            (staging / "metrics.json").write_text(json.dumps(self.metrics, indent=2) + "\n")
            pd.DataFrame(self.confusion, index=self.class_names, columns=self.class_names).to_csv(
                staging / "confusion.csv"
            )
            plot_confusion(self.confusion, self.class_names, staging / "confusion.png", self.model)
            (staging / "report.txt").write_text(self.render() + "\n")
        return Path(out)


def plot_confusion(confusion: np.ndarray, names: list[str], path: Path, title: str) -> None:
    """Save a confusion-matrix heat map with counts in the cells."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = max(4.0, 0.5 * len(names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(confusion, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"confusion matrix: {title}")
    for (i, j), count in np.ndenumerate(confusion):
        ax.text(j, i, int(count), ha="center", va="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=200, bbox_inches="tight")
    plt.close(fig)


def score_classifier(estimator: Any, data: Any) -> ClassificationEvaluation:
    """Accuracy, macro-F1 and confusion matrix of a fitted classifier on labelled ``data``,
    beside the logistic-regression baseline trained on the estimator's training split."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    estimator._check_fitted()
    sequences = estimator._labelled(data)
    truth = sequences.y.numpy()
    predictions = {
        estimator.model: estimator._predict_indices(sequences),
        "logistic-regression": estimator.baseline_.predict(
            sequences.x.numpy(), sequences.lengths.numpy()
        ),
    }
    labels = list(range(len(estimator.classes_)))
    metrics = {
        name: {
            "accuracy": float(accuracy_score(truth, pred)),
            "macro_f1": float(f1_score(truth, pred, average="macro", labels=labels)),
        }
        for name, pred in predictions.items()
    }
    ours, theirs = metrics[estimator.model], metrics["logistic-regression"]
    verb = "beats" if ours["macro_f1"] > theirs["macro_f1"] else "does NOT beat"
    verdict = (
        f"{estimator.model} {verb} logistic-regression on macro-F1 "
        f"({ours['macro_f1']:.4f} vs {theirs['macro_f1']:.4f})"
    )
    confusion = confusion_matrix(truth, predictions[estimator.model], labels=labels)
    scope = f"Scored on {estimator.scored_on_}."
    return ClassificationEvaluation(
        metrics, confusion, list(estimator.classes_), estimator.model, [verdict, scope]
    )


# -- dispatch ------------------------------------------------------------------------------


def evaluate(
    estimator: Estimator,
    data: Any,
    *,
    folds: int = 3,
    refit: bool = True,
    fill: str | None = None,
    seeds: int = 1,
) -> ForecastEvaluation | ClassificationEvaluation:
    """Evaluate any fitted estimator on ``data`` (see the module docstring)."""
    if estimator.kind == "forecast":
        return backtest_forecaster(
            estimator, data, folds=folds, refit=refit, fill=fill, seeds=seeds
        )
    if fill is not None:
        estimator.fill = fill
    return score_classifier(estimator, data)


def write_predictions(
    estimator: Estimator,
    data: Any,
    out: str | os.PathLike[str],
    *,
    plot: str | os.PathLike[str] | None = None,
    fill: str | None = None,
) -> list[Path]:
    """Predict on ``data`` and write the tidy CSV (and the plot); nothing is written on error."""
    if fill is not None:
        estimator.fill = fill
    table = (
        estimator.predict(data) if estimator.kind == "forecast" else estimator.predict_table(data)
    )
    written = []
    if plot is not None:
        if estimator.kind != "forecast":
            raise UserInputError("--plot is available for forecasting models only")
        with atomic_file(plot) as staging:
            plot_forecast(estimator, data, table, staging)
        written.append(Path(plot))
    with atomic_file(out) as staging:
        table.to_csv(staging, index=False)
    written.insert(0, Path(out))
    return written


def plot_forecast(estimator: Any, data: Any, forecast: pd.DataFrame, path: Path) -> None:
    """History (last ``4 · horizon`` steps), point forecast and the widest interval, one
    panel per series (at most 6)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    from rnnlab.estimators.forecaster import quantile_column
    from rnnlab.report.palette import model_colours

    cols = estimator.columns_
    target = cols["targets"][0]
    colour = model_colours([estimator.model])[estimator.model]
    levels = [float(q) for q in estimator.network_.quantile_levels]
    history = dict(estimator._groups(estimator._predict_frame(data)))
    sids = list(history)[:6]
    fig, axes = plt.subplots(len(sids), 1, figsize=(9, 2.8 * len(sids)), squeeze=False)
    for ax, sid in zip(axes[:, 0], sids, strict=True):
        past = history[sid].dropna(subset=[target]).iloc[-4 * estimator.horizon :]
        rows = (
            forecast if cols["series_id"] is None else forecast[forecast[cols["series_id"]] == sid]
        )
        # The forecast line starts at the last observed point, so the two read as one curve.
        last = past.iloc[[-1]][[cols["time"], target]]
        joined = pd.concat([last, rows[[cols["time"], target]]])
        ax.plot(past[cols["time"]], past[target], color="black", label="observed")
        ax.plot(joined[cols["time"]], joined[target], color=colour, marker=".",
                label=f"forecast ({estimator.model})")  # fmt: skip
        if len(levels) >= 3:
            low, high = levels[0], levels[-1]
            edge = float(last[target].iloc[0])
            ax.fill_between(
                joined[cols["time"]],
                [edge, *rows[quantile_column(target, low)]],
                [edge, *rows[quantile_column(target, high)]],
                color=colour,
                alpha=0.25,
                label=f"{low:g}–{high:g} quantiles",
            )
        ax.set_title(f"{target} — series {sid}" if cols["series_id"] else target)
        ax.set_xlabel(
            f"{cols['time']}" + (f" (every {estimator.freq_})" if estimator.freq_ else "")
        )
        ax.set_ylabel(f"{target} (units of the data)")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=9)
        if pd.api.types.is_datetime64_any_dtype(past[cols["time"]]):
            # Concise labels: full dates side by side overlap on a 9-inch panel. Times in a
            # zone are labelled in it (matplotlib's default is UTC).
            zone = past[cols["time"]].dt.tz
            locator = mdates.AutoDateLocator(tz=zone)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=zone))
    if len(history) > len(sids):
        fig.suptitle(f"first {len(sids)} of {len(history)} series", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=200, bbox_inches="tight")
    plt.close(fig)
