"""What the estimators share: parameters, training, and the one save/load path.

An estimator follows scikit-learn's conventions: constructor arguments are stored verbatim
and are the whole configuration (``get_params``); ``fit`` returns ``self``; everything
learned ends in ``_``. Saving writes a model directory (:mod:`rnnlab.modelfile`) holding the
network weights, the estimator's parameters, the network's config and the fitted state
(scalers, columns, class names); :func:`load` rebuilds any estimator from it without
unpickling anything.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

import torch

from rnnlab.errors import UserInputError
from rnnlab.modelfile import ModelFileError, load_into, read_model_dir, save_model_dir

# Networks a model file may name -> the class of rnnlab.models; nothing else is ever constructed
# from a config. Files written before the networks were renamed name them the old way.
_NETWORKS = {
    "ForecastNet": "ForecastNet",
    "ClassifierNet": "ClassifierNet",
    "SequenceAutoencoder": "SequenceAutoencoder",
    "Forecaster": "ForecastNet",
    "SequenceClassifier": "ClassifierNet",
}
# Where the estimator of each model kind lives (imported on load, which registers it).
_KIND_MODULES = {
    "forecast": "rnnlab.estimators.forecaster",
    "classify": "rnnlab.estimators.classifier",
    "embed": "rnnlab.unsupervised.embed",
}


class NotFittedError(UserInputError):
    """An estimator was used before ``fit`` (or ``load``)."""


class Estimator:
    """Base class; subclasses set ``kind`` and implement the ``_state`` hooks."""

    kind: ClassVar[str]
    registry: ClassVar[dict[str, type[Estimator]]] = {}

    network_: torch.nn.Module
    metrics_: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Estimator.registry[cls.kind] = cls

    # -- parameters ------------------------------------------------------------------------

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [name for name in signature.parameters if name != "self"]

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments (the configuration, separate from fitted state)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Estimator:
        """Change constructor arguments; returns ``self``."""
        unknown = sorted(set(params) - set(self._param_names()))
        if unknown:
            raise UserInputError(
                f"{type(self).__name__} has no parameter(s) {', '.join(unknown)}; "
                f"valid: {', '.join(self._param_names())}"
            )
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(...) or "
                "rnnlab.estimators.load(DIR) first"
            )

    # -- training --------------------------------------------------------------------------

    def _train_config(self, *, validate: bool) -> Any:
        from rnnlab.train import TrainConfig

        return TrainConfig(
            epochs=self.epochs,
            lr=self.lr,
            patience=self.patience if validate else None,
            seed=self.seed,
            device=self.device,
            progress=self.progress,
        )

    def _train(
        self,
        network: torch.nn.Module,
        train_batches: Callable[[torch.Generator], Iterable[Any]],
        val_batches: Callable[[], Iterable[Any]] | None,
    ) -> dict[str, Any]:
        """Train ``network`` with :class:`rnnlab.train.Trainer`; return the result as a dict."""
        from rnnlab.train import Trainer

        trainer = Trainer(network, self._train_config(validate=val_batches is not None))
        result = trainer.fit(lambda _epoch, gen: train_batches(gen), val_batches)
        network.cpu().eval()
        if result.status == "diverged":
            raise UserInputError(
                f"training diverged (NaN/Inf loss at step {result.diverged_at_step}); "
                "try a smaller learning rate (--lr)"
            )
        return {
            "epochs": result.epochs_completed,
            "best_epoch": result.best_epoch,
            "stop_reason": result.stop_reason,
            "best_val": result.best_val_metrics,
            "wall_time_s": round(result.wall_time_s, 3),
        }

    # -- save / load -----------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        """JSON-ready fitted state besides the weights (scalers, columns, ...)."""
        raise NotImplementedError

    def _restore(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`_state`."""
        raise NotImplementedError

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the fitted estimator to a model directory (atomically); returns its path."""
        self._check_fitted()
        network = self.network_
        config = {
            "kind": self.kind,
            "estimator": _jsonable(self.get_params()),
            "network": {
                "class": type(network).__name__,
                "config": _jsonable(dataclasses.asdict(network.config)),
            },
            "state": self._state(),
        }
        return save_model_dir(directory, network.state_dict(), config, self.metrics_)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def build_network(class_name: str, config: dict[str, Any]) -> torch.nn.Module:
    """Rebuild one of the task networks of :mod:`rnnlab.models` from its config dict."""
    import rnnlab.models as models

    if class_name not in _NETWORKS:
        raise ModelFileError(f"config.json names an unknown network class {class_name!r}")
    cls = getattr(models, _NETWORKS[class_name])
    try:
        return cls(**config)
    except (TypeError, ValueError) as err:
        raise ModelFileError(f"config.json: cannot rebuild {class_name} ({err})") from None


def load(directory: str | os.PathLike[str]) -> Estimator:
    """Load any estimator saved with ``save``: verifies the files, never unpickles."""
    config, weights, metrics = read_model_dir(directory)
    kind = config.get("kind")
    if kind not in _KIND_MODULES:
        raise ModelFileError(
            f"{directory}: model kind {kind!r} is not one of {sorted(_KIND_MODULES)}"
        )
    importlib.import_module(_KIND_MODULES[kind])
    try:
        # JSON has no tuples: sequence parameters come back as the tuples they were saved as.
        params = {
            name: tuple(value) if isinstance(value, list) else value
            for name, value in config["estimator"].items()
        }
        estimator = Estimator.registry[kind](**params)
        network = build_network(config["network"]["class"], config["network"]["config"])
    except (KeyError, TypeError) as err:
        raise ModelFileError(f"{directory}/config.json: incomplete or invalid ({err})") from None
    load_into(network, weights, source=f"{directory}/model.safetensors")
    estimator.network_ = network.eval()
    estimator.metrics_ = metrics
    estimator._restore(config.get("state", {}))
    return estimator
