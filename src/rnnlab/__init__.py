"""rnnlab: exact recurrent sequence models, honest comparisons and diagnostics.

Subpackages, in the one direction data flows:
``nn`` (cells, layers, engines) -> ``data`` -> ``models`` -> ``train`` -> ``compare``
-> ``diagnose`` -> ``report``. ``nn`` imports nothing else of rnnlab.

The estimators for your own data are available at the top level, imported on first use so
that ``import rnnlab.nn`` stays light::

    import rnnlab
    model = rnnlab.Forecaster(model="gru", horizon=24, window=96).fit(df)
"""

from typing import Any

from rnnlab.errors import RnnlabError, UserInputError

__version__ = "0.1.0"

__all__ = ["Classifier", "Forecaster", "RnnlabError", "UserInputError", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("Forecaster", "Classifier"):
        import rnnlab.estimators

        return getattr(rnnlab.estimators, name)
    raise AttributeError(f"module 'rnnlab' has no attribute {name!r}")
