"""One comparison run as a pure function: ``run_one(config, seed) -> RunResult``."""

from __future__ import annotations

import math
from pathlib import Path

from torch import nn

from rnnlab.compare import cost
from rnnlab.compare.tasks import TaskData, get_task
from rnnlab.compare.units import RunConfig, RunResult
from rnnlab.errors import UserInputError
from rnnlab.train import CheckpointError, TrainConfig, Trainer, mean_metrics, seed_everything
from rnnlab.train.device import to_device

MODEL_ALIASES = {"rnn": "rnn-tanh"}
"""Short model names accepted besides the encoder names of :func:`rnnlab.models.make_encoder`."""

EVAL_BATCH_SIZE = 256
RUNNER_KEYS = ("batch_size",)
"""Keys of ``RunConfig.train`` that are not :class:`rnnlab.train.TrainConfig` fields."""


def encoder_name(model: str) -> str:
    """The encoder name behind a model name (``rnn`` is ``rnn-tanh``)."""
    return MODEL_ALIASES.get(model, model)


def build_model(config: RunConfig, data: TaskData) -> nn.Module:
    """The task model of ``config`` (weights drawn from the current RNG state)."""
    return data.make_model(encoder_name(config.model), config.hidden_size, config.num_layers)


def train_config(config: RunConfig, seed: int, checkpoint_dir: Path | None) -> TrainConfig:
    """The trainer settings of a run: the task's defaults overridden by ``config.train``."""
    spec = get_task(config.task)
    settings = {k: v for k, v in {**spec.train, **config.train}.items() if k not in RUNNER_KEYS}
    return TrainConfig(
        **settings,
        monitor=spec.metric,
        mode="max" if spec.higher_is_better else "min",
        seed=seed,
        checkpoint_dir=checkpoint_dir,
        progress=False,
    )


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def run_one(config: RunConfig, seed: int, checkpoint_dir: Path | None = None) -> RunResult:
    """Train and evaluate one model on one task with one seed.

    The result depends only on ``(config, seed)``: with a ``checkpoint_dir`` an interrupted
    run resumes from its last epoch and ends with the same numbers as an uninterrupted one.

    Raises:
        UserInputError: unknown task or model, bad options, or a corrupt checkpoint (the
            message names the directory to delete; nothing is overwritten).
    """
    spec = get_task(config.task)
    data = spec.build(config.task_options)
    seed_everything(seed)
    model = build_model(config, data)
    batch_size = int({**spec.train, **config.train}["batch_size"])
    trainer = Trainer(model, train_config(config, seed, checkpoint_dir))
    val = data.eval_batches("val", EVAL_BATCH_SIZE)
    cost.reset_peak_memory(trainer.device)
    try:
        result = trainer.fit(
            data.train_batches(batch_size), lambda: val, resume=checkpoint_dir is not None
        )
    except CheckpointError as err:
        raise UserInputError(
            f"{err}. Delete {checkpoint_dir} to restart this run from scratch."
        ) from err
    metric = spec.metric
    curves = {
        "epoch": [r.epoch + 1 for r in result.history],
        "train_loss": [r.train_loss for r in result.history],
        "val_loss": [r.val_metrics.get("loss", math.nan) for r in result.history],
        f"val_{metric}": [r.val_metrics.get(metric, math.nan) for r in result.history],
        "seconds": [r.seconds for r in result.history],
        "grad_norm_max": [r.grad_norm_max for r in result.history],
    }
    metrics: dict[str, float] = {f"val_{k}": v for k, v in result.best_val_metrics.items()}
    test_batches = data.eval_batches("test", EVAL_BATCH_SIZE)
    if result.status == "done":
        test = mean_metrics(model, test_batches, trainer.device, source="the test split")
        metrics |= {f"test_{k}": v for k, v in test.items()}
    seconds = [r.seconds for r in result.history]
    figures = {
        "params": sum(p.numel() for p in model.parameters()),
        "flops_per_step": cost.flops_per_step(model),
        "seq_len": data.seq_len,
        "time_per_epoch_s": _mean(seconds),
        "train_time_s": result.wall_time_s,
        # CPU time hardly depends on how many runs shared the machine (machine_load: how many)
        "cpu_time_per_epoch_s": _mean([r.cpu_seconds for r in result.history]),
        "train_cpu_s": sum(r.cpu_seconds for r in result.history),
        "epochs": result.epochs_completed,
        "steps": result.total_steps,
        "device": result.device,
        "latency_ms_per_seq": cost.inference_latency_ms(
            model, to_device(test_batches[0], trainer.device)
        ),
        **cost.peak_memory(trainer.device),
        **cost.machine_load(),
    }
    error = None
    if result.status == "diverged":
        error = f"loss or gradient norm became NaN/Inf at step {result.diverged_at_step}"
    return RunResult(
        status=result.status,
        metrics=metrics,
        curves=curves,
        cost=figures,
        error=error,
    )
