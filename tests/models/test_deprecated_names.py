"""The networks' old names still import, with a DeprecationWarning naming the new one."""

import importlib

import pytest

import rnnlab
import rnnlab.models
from rnnlab.models import ClassifierNet, ClassifierNetConfig, ForecastNet, ForecastNetConfig

RENAMED = [
    ("rnnlab.models", "Forecaster", ForecastNet),
    ("rnnlab.models", "ForecasterConfig", ForecastNetConfig),
    ("rnnlab.models", "SequenceClassifier", ClassifierNet),
    ("rnnlab.models", "ClassifierConfig", ClassifierNetConfig),
    ("rnnlab.models.forecaster", "Forecaster", ForecastNet),
    ("rnnlab.models.classifier", "SequenceClassifier", ClassifierNet),
]


@pytest.mark.parametrize(("module", "old", "new"), RENAMED)
def test_old_name_warns_and_is_the_new_class(module, old, new):
    with pytest.warns(DeprecationWarning, match=f"{module}.{new.__name__}"):
        assert getattr(importlib.import_module(module), old) is new


def test_network_and_estimator_names_no_longer_collide():
    assert not {"Forecaster", "SequenceClassifier"} & set(rnnlab.models.__all__)
    assert rnnlab.Forecaster.__module__ == "rnnlab.estimators.forecaster"
    assert ForecastNet is not rnnlab.Forecaster and ClassifierNet is not rnnlab.Classifier
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        rnnlab.models.Nope  # noqa: B018
