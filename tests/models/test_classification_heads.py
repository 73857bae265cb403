"""ClassifierNet, SequenceRegressor and SequenceTagger."""

import dataclasses

import pytest
import torch

from rnnlab.data import Batch, make_task
from rnnlab.errors import UserInputError
from rnnlab.models import (
    ClassifierNet,
    ClassifierNetConfig,
    SequenceRegressor,
    SequenceTagger,
)


def _token_batch() -> Batch:
    torch.manual_seed(0)
    lengths = torch.tensor([6, 2, 4, 5])
    x = torch.randint(1, 20, (4, 6))
    x[torch.arange(6)[None] >= lengths[:, None]] = 0
    return Batch(x, torch.tensor([0, 1, 2, 1]), lengths)


@pytest.mark.parametrize("encoder,pooling", [("lstm", "last"), ("bigru", "mean"), ("tcn", "mean")])
def test_classifier_padding_invariance_and_overfit(encoder, pooling, overfit) -> None:
    torch.manual_seed(0)
    model = ClassifierNet(
        encoder=encoder,
        input_size=20,
        num_classes=3,
        hidden_size=8,
        embedding_dim=6,
        pooling=pooling,
    )
    batch = _token_batch()
    probabilities = model.predict(batch.x, batch.lengths)
    assert probabilities.shape == (4, 3)
    torch.testing.assert_close(probabilities.sum(-1), torch.ones(4))
    extra = torch.cat([batch.x, torch.zeros(4, 3, dtype=torch.long)], 1)  # more padding
    torch.testing.assert_close(model.predict(extra, batch.lengths), probabilities)
    for b, n in enumerate(batch.lengths.tolist()):
        alone = model.predict(batch.x[b : b + 1, :n])
        torch.testing.assert_close(alone[0], probabilities[b])
    losses = overfit(model, batch, steps=20, lr=0.05)
    assert losses[-1] < 0.3 * losses[0]
    metrics = model.metrics(batch)
    assert set(metrics) == {"loss", "accuracy"} and metrics["accuracy"] == 1.0


def test_classifier_float_features_and_config_round_trip() -> None:
    config = ClassifierNetConfig("gru", input_size=3, num_classes=2, hidden_size=5)
    model = ClassifierNet(config)
    rebuilt = ClassifierNet(**model.config_dict())
    assert rebuilt.config == config
    assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in model.parameters()]
    assert model(torch.randn(2, 4, 3)).shape == (2, 2)
    with pytest.raises(UserInputError, match=r"expected float input \(B, T, 3\)"):
        model(torch.randint(0, 3, (2, 4)))
    with pytest.raises(TypeError, match="not both"):
        ClassifierNet(config, hidden_size=3)
    with pytest.raises(UserInputError, match="pooling must be one of"):
        ClassifierNet(dataclasses.replace(config, pooling="max"))
    with pytest.raises(UserInputError, match=r"token ids must lie in \[0, 5\)"):
        ClassifierNet(encoder="gru", input_size=5, num_classes=2, embedding_dim=3)(
            torch.tensor([[1, 7]])
        )


def test_regressor_on_adding_problem(overfit) -> None:
    task = make_task("adding", 8)
    batch = task.batch(16, task.train_generator())
    model = SequenceRegressor(encoder="gru", input_size=2, hidden_size=8)
    losses = overfit(model, batch, steps=25, lr=0.03)
    assert losses[-1] < 0.5 * losses[0]
    metrics = model.metrics(batch)
    assert metrics["mse"] == metrics["loss"]
    prediction = model.predict(batch.x)
    assert prediction.shape == (16, 1)
    assert metrics["mse"] == pytest.approx(float(((prediction[:, 0] - batch.y) ** 2).mean()))


def test_tagger_recall_metric_counts_only_last_steps() -> None:
    model = SequenceTagger(
        encoder="gru", input_size=1, num_classes=3, hidden_size=4, recall_steps=2
    )
    with torch.no_grad():  # make the model predict class 0 everywhere
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor([5.0, 0.0, 0.0]))
    y = torch.tensor([[0, 0, 0, 1, 0], [0, 0, 0, 0, 0]])
    batch = Batch(torch.zeros(2, 5, 1), y, torch.tensor([5, 3]))
    metrics = model.metrics(batch)
    # Last two valid steps: row 0 -> steps 3, 4 (one wrong); row 1 -> steps 1, 2 (right).
    assert metrics["recall_accuracy"] == pytest.approx(3 / 4)
    assert metrics["accuracy"] == pytest.approx(7 / 8)  # 8 valid steps, one wrong
    logp = torch.log_softmax(torch.tensor([5.0, 0.0, 0.0]), 0)
    expected_ce = -(7 * logp[0] + logp[1]) / 8
    assert metrics["cross_entropy"] == pytest.approx(float(expected_ce), rel=1e-5)


def test_tagger_on_copy_memory(overfit) -> None:
    task = make_task("copy", 3, memory=2)
    batch = task.batch(8, task.train_generator())
    model = SequenceTagger(encoder="lstm", input_size=1, num_classes=10, hidden_size=8)
    losses = overfit(model, batch, steps=25, lr=0.05)
    assert losses[-1] < 0.5 * losses[0]
    metrics = model.metrics(batch)
    assert {"loss", "cross_entropy", "accuracy", "recall_accuracy"} == set(metrics)
    assert model.predict(batch.x).shape == batch.y.shape


@pytest.mark.parametrize("model_type", [ClassifierNet, SequenceTagger])
def test_one_class_and_out_of_range_labels_are_clear_errors(model_type) -> None:
    with pytest.raises(UserInputError, match="num_classes must be at least 2, got 1"):
        model_type(encoder="gru", input_size=2, num_classes=1, hidden_size=4)
    model = model_type(encoder="gru", input_size=2, num_classes=3, hidden_size=4)
    labels = torch.tensor([0, 3]) if model_type is ClassifierNet else torch.tensor([[0, 3]])
    batch = Batch(x=torch.randn(len(labels), 2, 2), y=labels)  # tagger: one sequence, 2 steps
    for compute in (model.loss, model.metrics):
        with pytest.raises(UserInputError, match=r"class indices 0\.\.2 .*from 0 to 3"):
            compute(batch)
