"""Classic, non-recurrent baselines every neural model is measured against.

Forecasting: :class:`Naive`, :class:`SeasonalNaive`, :class:`BestSeasonalNaive` (the best of
every season the frequency implies), :class:`AutoARIMA` (statsmodels, non-seasonal, order
chosen by AIC over a small grid), :class:`ETS`, :class:`Theta` (statsmodels) and
:class:`WindowLinear` (DLinear-style ridge map from the window to the horizon).
Classification: :class:`SummaryLogisticRegression`
(scikit-learn logistic regression on per-channel summary statistics).
"""

from rnnlab.baselines.classify import SummaryLogisticRegression, summary_features
from rnnlab.baselines.forecast import (
    ETS,
    AutoARIMA,
    BestSeasonalNaive,
    Naive,
    SeasonalNaive,
    Theta,
    WindowLinear,
    best_season,
    make_baseline,
)

__all__ = [
    "ETS",
    "AutoARIMA",
    "BestSeasonalNaive",
    "Naive",
    "SeasonalNaive",
    "SummaryLogisticRegression",
    "Theta",
    "WindowLinear",
    "best_season",
    "make_baseline",
    "summary_features",
]
