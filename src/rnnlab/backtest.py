"""Deprecated (one release): moved to :mod:`rnnlab.estimators.backtest`, its only users.

Importing this path warns and hands back that module itself, so every name (and every
monkeypatch) is shared with the new path.
"""

import sys
import warnings

from rnnlab.estimators import backtest as _backtest

warnings.warn(
    "rnnlab.backtest is deprecated and will be removed in the next release; "
    "use rnnlab.estimators.backtest",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _backtest
