"""ForecastNet: direct and seq2seq heads, covariates, quantiles and the pinball loss."""

import pytest
import torch

from rnnlab.data import Batch
from rnnlab.errors import UserInputError
from rnnlab.models import ForecastNet, pinball_loss


def _batch(n: int = 6, window: int = 10, horizon: int = 3, future_size: int = 2) -> Batch:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, window, 3, generator=generator)
    batch = Batch(x, torch.randn(n, horizon, 1, generator=generator))
    batch.future = torch.randn(n, horizon, future_size, generator=generator)
    return batch


def _model(decoder: str, attention: str | None = "luong", **options) -> ForecastNet:
    torch.manual_seed(0)
    options = {"future_size": 2, "hidden_size": 8, **options}
    return ForecastNet(
        encoder="gru", input_size=3, horizon=3, decoder=decoder, attention=attention, **options
    )


def test_pinball_loss_formula() -> None:
    prediction = torch.tensor([[1.0, 2.0, 3.0]])
    target = torch.tensor([2.5])
    levels = torch.tensor([0.1, 0.5, 0.9])
    # errors y - y_q: 1.5, 0.5, -0.5 -> 0.1*1.5, 0.5*0.5, (0.9-1)*(-0.5)
    expected = (0.15 + 0.25 + 0.05) / 3
    assert float(pinball_loss(prediction, target, levels)) == pytest.approx(expected)
    median = pinball_loss(prediction[:, 1:2], target, levels[1:2])
    assert float(median) == pytest.approx(0.5 * abs(2.5 - 2.0))


@pytest.mark.parametrize(
    "decoder,attention", [("direct", None), ("seq2seq", "luong"), ("seq2seq", "bahdanau")]
)
def test_shapes_future_covariates_used_and_required(decoder, attention) -> None:
    model = _model(decoder, attention, quantiles=(0.1, 0.5, 0.9))
    batch = _batch()
    forecast = model.predict(batch.x, batch.future)
    assert forecast.shape == (6, 3, 1, 3)
    changed = model.predict(batch.x, batch.future + 1.0)
    assert not torch.allclose(forecast, changed)
    # Only the future covariates of steps <= h may matter for a seq2seq step h.
    later = batch.future.clone()
    later[:, 2] += 5.0
    if decoder == "seq2seq":
        torch.testing.assert_close(model.predict(batch.x, later)[:, :2], forecast[:, :2])
    with pytest.raises(UserInputError, match=r"future covariates must have shape \(6, 3, 2\)"):
        model.predict(batch.x)


@pytest.mark.parametrize("attention", ["luong", "bahdanau", None])
def test_seq2seq_teacher_forcing_with_own_forecasts_equals_free_running(attention) -> None:
    model = _model("seq2seq", attention).eval()
    batch = _batch()
    with torch.no_grad():
        free = model(batch.x, batch.future)
        forced = model(batch.x, batch.future, teacher=free)
    assert free.shape == (6, 3, 1)
    torch.testing.assert_close(forced, free)


def test_sorted_quantiles_are_monotone_and_never_worse() -> None:
    model = _model("direct", quantiles=(0.1, 0.25, 0.5, 0.75, 0.9))
    with torch.no_grad():  # scramble the head so raw quantiles cross
        model.head.weight.normal_(0, 1.0)
    batch = _batch(n=32)
    raw = model.predict(batch.x, batch.future, sort_quantiles=False)
    assert bool((raw.diff(dim=-1) < 0).any())
    ordered = model.predict(batch.x, batch.future)
    assert bool((ordered.diff(dim=-1) >= 0).all())
    levels = model.quantile_levels
    for i in range(32):
        for h in range(3):
            y = batch.y[i, h]
            assert pinball_loss(ordered[i, h], y, levels) <= pinball_loss(raw[i, h], y, levels)


@pytest.mark.parametrize(
    "decoder,attention,quantiles",
    [("direct", None, (0.1, 0.5, 0.9)), ("seq2seq", "bahdanau", None)],
)
def test_overfits_and_reports_metrics(decoder, attention, quantiles, overfit) -> None:
    model = _model(decoder, attention, quantiles=quantiles)
    batch = _batch()
    losses = overfit(model, batch, steps=30, lr=0.03)
    assert losses[-1] < 0.5 * losses[0]
    metrics = model.metrics(batch)
    point = model.point(model.predict(batch.x, batch.future))
    assert metrics["mae"] == pytest.approx(float((point - batch.y).abs().mean()), rel=1e-5)
    assert metrics["mse"] == pytest.approx(float((point - batch.y).pow(2).mean()), rel=1e-5)
    assert ("pinball" in metrics) == (quantiles is not None)


def test_bad_configs() -> None:
    with pytest.raises(UserInputError, match="strictly increasing levels in"):
        ForecastNet(encoder="gru", input_size=1, horizon=2, quantiles=(0.5, 0.1))
    with pytest.raises(UserInputError, match="strictly increasing levels in"):
        ForecastNet(encoder="gru", input_size=1, horizon=2, quantiles=(0.0, 0.5))
    with pytest.raises(UserInputError, match="decoder must be one of"):
        ForecastNet(encoder="gru", input_size=1, horizon=2, decoder="mlp")
    with pytest.raises(UserInputError, match="n_targets"):
        ForecastNet(encoder="gru", input_size=1, horizon=2, n_targets=2)
    with pytest.raises(UserInputError, match="future_size=0"):
        model = ForecastNet(encoder="gru", input_size=1, horizon=2)
        model(torch.randn(1, 4, 1), torch.randn(1, 2, 1))


@pytest.mark.parametrize("decoder", ["direct", "seq2seq"])
def test_targets_of_the_wrong_shape_are_a_clear_error(decoder) -> None:
    model = ForecastNet(encoder="gru", input_size=2, horizon=3, hidden_size=4, decoder=decoder)
    batch = Batch(torch.randn(4, 6, 2), torch.randn(4, 5, 1))  # horizon 5, not 3
    for compute in (model.loss, model.metrics):
        with pytest.raises(UserInputError, match=r"= \(4, 3, 1\), got \(4, 5, 1\)"):
            compute(batch)


@pytest.mark.parametrize("decoder", ["direct", "seq2seq"])
def test_linear_component_adds_a_linear_map_of_the_last_target_values(decoder) -> None:
    batch = _batch()
    plain = _model(decoder, quantiles=(0.1, 0.5, 0.9)).eval()
    model = _model(decoder, quantiles=(0.1, 0.5, 0.9), linear_window=4).eval()
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("linear.")}
    plain.load_state_dict(state)
    with torch.no_grad():
        linear = model.linear(batch.x[:, -4:, :1].reshape(6, 4)).view(6, 3, 1, 1)
        # seq2seq feeds its point forecasts back, so only its first step is plain + linear.
        steps = 3 if decoder == "direct" else 1
        torch.testing.assert_close(
            model(batch.x, batch.future)[:, :steps],
            (plain(batch.x, batch.future) + linear)[:, :steps],
        )
        # Only the targets' last 4 steps are read: covariates and older steps change nothing.
        changed = batch.x.clone()
        changed[:, :-4] += 3.0
        changed[..., 1:] -= 2.0
        moved = model.linear_forecast(changed)
    torch.testing.assert_close(moved, linear.view(6, 3, 1))
    with pytest.raises(UserInputError, match="reads 4 steps; got a window of 3"):
        model.linear_forecast(batch.x[:, :3])
