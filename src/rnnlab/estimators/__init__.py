"""Estimators with the scikit-learn conventions: ``Forecaster`` and ``Classifier``.

``fit`` returns ``self``; fitted attributes end in ``_``; ``est.save(dir)`` writes a model
directory and :func:`load` reads any of them back (safetensors + JSON, never pickle).
Imported lazily so ``import rnnlab`` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Classifier", "Forecaster", "load"]


def __getattr__(name: str) -> Any:
    if name == "Forecaster":
        from rnnlab.estimators.forecaster import Forecaster

        return Forecaster
    if name == "Classifier":
        from rnnlab.estimators.classifier import Classifier

        return Classifier
    if name == "load":
        from rnnlab.estimators.base import load

        return load
    raise AttributeError(f"module 'rnnlab.estimators' has no attribute {name!r}")
