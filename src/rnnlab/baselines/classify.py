"""A non-recurrent classification baseline: logistic regression on summary statistics.

Each sequence becomes one fixed-size vector of per-channel statistics over its valid steps
(mean, standard deviation, minimum, maximum, first, last value and least-squares slope),
so the baseline sees the distribution of every channel but not the order of events beyond
the slope. A recurrent model that cannot beat it is not using the sequence structure.
"""

from __future__ import annotations

import numpy as np

from rnnlab.errors import UserInputError

STATISTICS = ("mean", "std", "min", "max", "first", "last", "slope")


def summary_features(x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Per-channel statistics of zero-padded sequences.

    Args:
        x: float array (N, T_max, C), zero-padded after each sequence's length.
        lengths: int array (N,), each in 1..T_max.

    Returns:
        float array (N, C · 7), statistics ordered as :data:`STATISTICS` within each channel.
    """
    x = np.asarray(x, dtype=np.float64)
    lengths = np.asarray(lengths, dtype=np.int64)
    if x.ndim != 3 or lengths.shape != (x.shape[0],):
        raise UserInputError(
            f"expected x of shape (N, T, C) and lengths (N,); got {x.shape} and {lengths.shape}"
        )
    if lengths.min(initial=1) < 1 or lengths.max(initial=0) > x.shape[1]:
        raise UserInputError(f"lengths must lie in 1..{x.shape[1]}")
    rows = []
    for seq, n in zip(x, lengths, strict=True):
        valid = seq[:n]
        steps = np.arange(n, dtype=np.float64)
        centred = steps - steps.mean()
        denom = float((centred**2).sum()) or 1.0
        slope = centred @ (valid - valid.mean(axis=0)) / denom
        stats = [
            valid.mean(axis=0),
            valid.std(axis=0),
            valid.min(axis=0),
            valid.max(axis=0),
            valid[0],
            valid[-1],
            slope,
        ]
        rows.append(np.stack(stats, axis=1).reshape(-1))
    return np.asarray(rows)


class SummaryLogisticRegression:
    """Standardised summary features → multinomial logistic regression (scikit-learn).

    Fitting uses scikit-learn; the fitted parameters are then kept as arrays (``mean_``,
    ``scale_``, ``coef_``, ``intercept_``, ``classes_``) and prediction is computed from them,
    so a fitted baseline round-trips through JSON without pickle.
    """

    name = "logistic-regression"

    def __init__(self, c: float = 1.0, max_iter: int = 2000) -> None:
        self.c = c
        self.max_iter = max_iter

    def fit(self, x: np.ndarray, lengths: np.ndarray, y: np.ndarray) -> SummaryLogisticRegression:
        """Fit on padded sequences ``x`` (N, T, C) with ``lengths`` (N,) and labels ``y``."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.pipeline_ = make_pipeline(
            StandardScaler(), LogisticRegression(C=self.c, max_iter=self.max_iter)
        )
        self.pipeline_.fit(summary_features(x, lengths), np.asarray(y))

        scaler, model = self.pipeline_[0], self.pipeline_[-1]
        self.mean_, self.scale_ = scaler.mean_, scaler.scale_
        self.coef_, self.intercept_ = model.coef_, model.intercept_
        self.classes_ = model.classes_
        return self

    def predict_proba(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Class probabilities (N, n_classes) per sequence, columns ordered as ``classes_``."""
        z = (summary_features(x, lengths) - self.mean_) / self.scale_
        logits = z @ self.coef_.T + self.intercept_
        if logits.shape[1] == 1:  # binary: scikit-learn keeps one column for class 1
            logits = np.concatenate([np.zeros_like(logits), logits], axis=1)
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Predicted class per sequence."""
        return self.classes_[self.predict_proba(x, lengths).argmax(axis=1)]

    def to_dict(self) -> dict[str, list]:
        """The fitted parameters as plain lists (for JSON model files; no pickle)."""
        names = ("mean_", "scale_", "coef_", "intercept_", "classes_")
        return {name: np.asarray(getattr(self, name)).tolist() for name in names}

    @classmethod
    def from_dict(cls, params: dict[str, list]) -> SummaryLogisticRegression:
        """Inverse of :meth:`to_dict`."""
        model = cls()
        for name, value in params.items():
            setattr(model, name, np.asarray(value))
        return model
