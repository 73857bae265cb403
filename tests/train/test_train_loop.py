"""The training loop: clipping, schedules, early stopping, NaN guard, budgets, validation."""

from __future__ import annotations

import io
import itertools
import math
import sys
from collections.abc import Iterator

import pytest
import torch
from torch import nn
from train_toy import (
    Batch,
    assert_same_weights,
    comparable,
    make_model,
    toy_config,
    train_batches,
    val_batches,
)

from rnnlab.errors import UserInputError
from rnnlab.train import StepInfo, TrainConfig, Trainer


class Recorder:
    """on_step callback keeping every StepInfo and the clipped gradient norm the model holds."""

    def __init__(self) -> None:
        self.steps: list[StepInfo] = []
        self.held_norms: list[float] = []

    def __call__(self, info: StepInfo) -> None:
        self.steps.append(info)
        grads = [p.grad for p in info.model.parameters() if p.grad is not None]
        self.held_norms.append(
            torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item()
        )


class ScriptedMetric(nn.Module):
    """A model whose validation metric follows a script, to test early stopping exactly."""

    def __init__(self, script: list[float]) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.script = iter(script)
        self.weights_at_validation: list[torch.Tensor] = []

    def loss(self, batch: Batch) -> torch.Tensor:
        return ((self.weight - batch.y.mean()) ** 2).sum()

    def metrics(self, batch: Batch) -> dict[str, float]:
        self.weights_at_validation.append(self.weight.detach().clone())
        return {"loss": next(self.script), "accuracy": 0.5}


def one_batch(epoch: int, generator: torch.Generator) -> list[Batch]:
    return [Batch(x=torch.zeros(4, 1), y=torch.randn(4, generator=generator))]


def test_clipping_bounds_the_applied_gradient_and_records_the_raw_norm() -> None:
    recorder = Recorder()
    trainer = Trainer(make_model(), toy_config(epochs=1, clip_norm=0.01), on_step=recorder)
    result = trainer.fit(train_batches, val_batches)
    raw = [info.grad_norm for info in recorder.steps]
    assert all(norm > 0.01 for norm in raw)
    assert recorder.held_norms == pytest.approx([0.01] * len(raw), rel=1e-4)
    record = result.history[0]
    assert record.clipped_fraction == 1.0
    assert record.grad_norm_max == max(raw)
    assert record.grad_norm_mean == pytest.approx(sum(raw) / len(raw))
    assert result.clip_norm == 0.01


def test_clip_norm_none_leaves_gradients_untouched() -> None:
    recorder = Recorder()
    result = Trainer(make_model(), toy_config(epochs=1, clip_norm=None), on_step=recorder).fit(
        train_batches, val_batches
    )
    assert [s.grad_norm for s in recorder.steps] == pytest.approx(recorder.held_norms, rel=1e-6)
    assert result.clip_norm is None and result.history[0].clipped_fraction == 0.0


@pytest.mark.parametrize("as_list", [True, False])
def test_cosine_schedule_with_warmup_follows_the_formula(as_list: bool) -> None:
    """With a list the epoch length is known at once; a generator's is measured in epoch 0."""
    recorder = Recorder()
    config = toy_config(epochs=3, lr=0.1, min_lr=0.01, warmup_steps=3, schedule="cosine")
    batches = (lambda e, g: list(train_batches(e, g))) if as_list else train_batches
    Trainer(make_model(), config, on_step=recorder).fit(batches, val_batches)
    steps_per_epoch = 4
    expected = []
    for step in range(12):
        known = as_list or step >= steps_per_epoch
        fraction = step / steps_per_epoch / 3 if known else 0.0
        rate = 0.01 + 0.09 * 0.5 * (1 + math.cos(math.pi * fraction))
        expected.append(rate * min(1.0, (step + 1) / 3))
    assert [info.lr for info in recorder.steps] == pytest.approx(expected)


def test_plateau_schedule_cuts_the_rate_after_patience_epochs() -> None:
    model = ScriptedMetric([1.0, 0.5, 0.6, 0.7, 0.8, 0.9])
    config = TrainConfig(
        epochs=6,
        lr=0.1,
        schedule="plateau",
        plateau_patience=2,
        plateau_factor=0.5,
        device="cpu",
        progress=False,
    )
    result = Trainer(model, config).fit(one_batch, lambda: [one_batch(0, torch.Generator())[0]])
    assert [record.lr for record in result.history] == pytest.approx(
        [0.1, 0.1, 0.1, 0.1, 0.05, 0.05]
    )


def test_early_stopping_restores_the_best_weights() -> None:
    model = ScriptedMetric([3.0, 2.0, 2.5, 2.6, 1.0])
    config = TrainConfig(epochs=5, lr=0.1, patience=2, device="cpu", progress=False)
    result = Trainer(model, config).fit(one_batch, lambda: [one_batch(0, torch.Generator())[0]])
    assert result.status == "done" and result.stopped_early
    assert result.stop_reason == "early_stopping"
    assert result.epochs_completed == 4 and result.best_epoch == 1 and result.best_metric == 2.0
    assert result.final_val_metrics["loss"] == 2.6
    assert result.best_val_metrics == {"loss": 2.0, "accuracy": 0.5}
    assert torch.equal(model.weight.detach(), model.weights_at_validation[1])
    assert not torch.equal(model.weight.detach(), model.weights_at_validation[3])


def test_patience_running_out_in_the_last_epoch_is_not_early_stopping() -> None:
    model = ScriptedMetric([3.0, 2.0, 2.5, 2.6])
    config = TrainConfig(epochs=4, lr=0.1, patience=2, device="cpu", progress=False)
    result = Trainer(model, config).fit(one_batch, lambda: [one_batch(0, torch.Generator())[0]])
    assert result.stop_reason == "completed" and not result.stopped_early
    assert result.best_epoch == 1


def test_mode_max_monitors_the_named_metric() -> None:
    model = ScriptedMetric([0.0] * 3)
    model.metrics = lambda batch: {"loss": 1.0, "accuracy": next(model.script)}  # type: ignore[method-assign]
    model.script = iter([0.2, 0.9, 0.4])
    config = TrainConfig(epochs=3, monitor="accuracy", mode="max", device="cpu", progress=False)
    result = Trainer(model, config).fit(one_batch, lambda: [one_batch(0, torch.Generator())[0]])
    assert result.best_epoch == 1 and result.best_metric == 0.9


def test_unknown_monitor_is_a_clear_error() -> None:
    trainer = Trainer(make_model(), toy_config(epochs=1, monitor="accuracy"))
    with pytest.raises(UserInputError, match=r"'accuracy' is not among .*\(loss, mae\)"):
        trainer.fit(train_batches, val_batches)
    with pytest.raises(UserInputError, match="needs validation batches"):
        trainer.fit(train_batches)


class BlowsUp(nn.Module):
    """Finite until step ``at``; then a NaN loss, or a finite loss with an infinite gradient."""

    def __init__(self, at: int, kind: str) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(3))
        self.at, self.kind, self.calls = at, kind, 0

    def loss(self, batch: Batch) -> torch.Tensor:
        self.calls += 1
        loss = (self.weight * batch.y[:3]).pow(2).mean()
        if self.calls < self.at:
            return loss
        if self.kind == "nan":
            return loss * torch.tensor(float("nan"))
        return loss + torch.sqrt(self.weight - self.weight.detach()).sum()  # d/dw sqrt(0) = inf


@pytest.mark.parametrize("kind", ["nan", "inf-gradient"])
def test_divergence_stops_the_run_and_is_reported(kind: str) -> None:
    model = BlowsUp(at=6, kind=kind)
    config = TrainConfig(epochs=5, steps_per_epoch=4, device="cpu", progress=False)
    result = Trainer(model, config).fit(one_batch_stream)
    assert result.status == "diverged" and result.stop_reason == "diverged"
    assert result.diverged_at_step == 6 and result.total_steps == 6
    assert result.epochs_completed == 1 and len(result.history) == 1
    assert torch.isfinite(model.weight).all()


def one_batch_stream(epoch: int, generator: torch.Generator) -> Iterator[Batch]:
    """An infinite stream, as synthetic tasks give."""
    while True:
        yield Batch(x=torch.zeros(4, 1), y=torch.randn(4, generator=generator))


def test_steps_per_epoch_cuts_an_infinite_stream() -> None:
    recorder = Recorder()
    model = BlowsUp(at=10**9, kind="nan")
    config = TrainConfig(epochs=3, steps_per_epoch=5, device="cpu", progress=False)
    result = Trainer(model, config, on_step=recorder).fit(one_batch_stream)
    assert result.total_steps == 15 and [r.steps for r in result.history] == [5, 5, 5]
    assert [info.step for info in recorder.steps] == list(range(1, 16))
    assert [info.epoch for info in recorder.steps] == [0] * 5 + [1] * 5 + [2] * 5
    # Without validation the training loss is monitored.
    assert result.final_val_metrics == {}
    assert result.best_metric == min(record.train_loss for record in result.history)


def test_time_budget_ends_the_run_after_the_step_that_exceeds_it() -> None:
    config = toy_config(epochs=3, max_time_s=1e-9)
    result = Trainer(make_model(), config).fit(train_batches, val_batches)
    assert result.stop_reason == "time_budget" and result.status == "done"
    assert result.total_steps == 1 and result.history[0].steps == 1
    assert set(result.final_val_metrics) == {"loss", "mae"}


def test_validation_metrics_are_averaged_weighted_by_batch_size() -> None:
    trainer = Trainer(make_model(), toy_config(epochs=1, restore_best=False))
    trainer.fit(train_batches, val_batches)
    model = trainer.model.eval()
    with torch.no_grad():
        full = model.metrics(
            Batch(
                x=torch.cat([b.x for b in val_batches()]), y=torch.cat([b.y for b in val_batches()])
            )
        )
    assert trainer._validate(val_batches) == pytest.approx(full, rel=1e-5)


def test_reset_state_runs_before_each_epoch_and_each_validation() -> None:
    trainer = Trainer(make_model(), toy_config(epochs=3))
    trainer.fit(train_batches, val_batches)
    assert trainer.model.resets == 6


@pytest.mark.parametrize(
    ("optimizer", "kind"),
    [
        ("adam", torch.optim.Adam),
        ("adamw", torch.optim.AdamW),
        ("rmsprop", torch.optim.RMSprop),
        ("sgd", torch.optim.SGD),
    ],
)
def test_every_optimizer_lowers_the_loss(optimizer: str, kind: type) -> None:
    config = toy_config(epochs=3, optimizer=optimizer, lr=0.01, momentum=0.9, schedule="none")
    trainer = Trainer(make_model(), config)
    result = trainer.fit(train_batches, val_batches)
    assert type(trainer.optimizer) is kind
    assert result.history[-1].val_metrics["loss"] < result.history[0].val_metrics["loss"]


def test_empty_batches_and_bad_arguments_are_clear_errors() -> None:
    trainer = Trainer(make_model(), toy_config(epochs=1))
    with pytest.raises(UserInputError, match="yielded no batches"):
        trainer.fit(lambda epoch, generator: [], val_batches)
    with pytest.raises(UserInputError, match="val_batches\\(\\) yielded no batches"):
        trainer.fit(train_batches, lambda: [])
    with pytest.raises(UserInputError, match=r"must be a callable .* got int"):
        trainer.fit(3, val_batches)  # type: ignore[arg-type]
    with pytest.raises(UserInputError, match="val_batches is a one-shot iterator"):
        trainer.fit(train_batches, iter(val_batches()))
    with pytest.raises(UserInputError, match="needs a loss"):
        Trainer(nn.Linear(1, 1))


def test_history_is_complete_and_json_ready() -> None:
    import json

    result = Trainer(make_model(), toy_config(epochs=2)).fit(train_batches, val_batches)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["status"] == "done" and data["stopped_early"] is False
    assert [record["epoch"] for record in data["history"]] == [0, 1]
    assert set(data["history"][0]) == {
        "epoch",
        "steps",
        "train_loss",
        "val_metrics",
        "lr",
        "grad_norm_mean",
        "grad_norm_max",
        "clipped_fraction",
        "seconds",
        "cpu_seconds",
    }
    assert type(result).from_dict(data).to_dict() == result.to_dict()
    assert all(record.seconds > 0 and record.cpu_seconds > 0 for record in result.history)
    assert result.total_steps == 8 and result.device == "cpu"


def test_islice_does_not_consume_beyond_the_steps_taken() -> None:
    drawn = itertools.count()

    def counting(epoch: int, generator: torch.Generator) -> Iterator[Batch]:
        while True:
            next(drawn)
            yield Batch(x=torch.zeros(4, 1), y=torch.randn(4, generator=generator))

    config = TrainConfig(epochs=2, steps_per_epoch=3, device="cpu", progress=False)
    Trainer(BlowsUp(at=10**9, kind="nan"), config).fit(counting)
    assert next(drawn) == 6


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("progress", [True, False])
def test_progress_bar_shows_epochs_loss_and_eta_only_when_asked(
    progress: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    Trainer(make_model(), toy_config(epochs=2, progress=progress)).fit(train_batches, val_batches)
    shown = terminal.getvalue()
    if progress:
        assert "epoch 2/2" in shown and "loss" in shown and "ETA" in shown
        assert "train loss" in shown  # the per-epoch summary line
    else:
        assert shown == ""


def test_lists_of_batches_train_like_the_callables_returning_them() -> None:
    generator = torch.Generator().manual_seed(0)
    train = list(train_batches(0, generator))  # one fixed order, every epoch
    first = Trainer(make_model(), toy_config(epochs=2))
    first_result = first.fit(lambda epoch, generator: train, val_batches)
    second = Trainer(make_model(), toy_config(epochs=2))
    second_result = second.fit(train, val_batches())
    assert_same_weights(first.model, second.model)
    assert comparable(first_result) == comparable(second_result)
    assert second_result.total_steps == 2 * len(train)
