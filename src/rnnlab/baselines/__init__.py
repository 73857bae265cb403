"""Classic, non-recurrent baselines every neural model is measured against.

Forecasting: :class:`Naive`, :class:`SeasonalNaive`, :class:`AutoARIMA` (statsmodels, order
chosen by AIC over a small grid). Classification: :class:`SummaryLogisticRegression`
(scikit-learn logistic regression on per-channel summary statistics).
"""

from rnnlab.baselines.classify import SummaryLogisticRegression, summary_features
from rnnlab.baselines.forecast import AutoARIMA, Naive, SeasonalNaive, make_baseline

__all__ = [
    "AutoARIMA",
    "Naive",
    "SeasonalNaive",
    "SummaryLogisticRegression",
    "make_baseline",
    "summary_features",
]
