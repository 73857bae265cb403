"""The training loop: clipping, LR schedule, early stopping, NaN guard, atomic checkpoints, resume.

A run's result depends only on its ``TrainConfig``, the model's initial weights and the data
callables: every random number is drawn from generators that are seeded at the start and
checkpointed after each epoch, so a run killed and resumed ends with the same weights and
history, bit for bit on CPU, as one that never stopped.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from rnnlab.errors import UserInputError
from rnnlab.train.checkpoint import (
    CheckpointError,
    checkpoint_path,
    load_checkpoint,
    remove_stale_temp_files,
    save_checkpoint,
)
from rnnlab.train.config import TrainConfig
from rnnlab.train.denormals import flush_denormals
from rnnlab.train.device import batch_weight, resolve_device, to_device
from rnnlab.train.progress import TrainingProgress
from rnnlab.train.schedule import LRSchedule, improves
from rnnlab.train.seeding import (
    capture_rng_state,
    data_generator,
    deterministic_mode,
    restore_rng_state,
    seed_everything,
)

logger = logging.getLogger(__name__)

TrainBatches = Callable[[int, torch.Generator], Iterable[Any]] | Iterable[Any]
"""``train_batches(epoch, generator)``: the batches of one epoch, drawn from ``generator``;
or a re-iterable collection of batches (a list, a DataLoader) iterated once per epoch."""
ValBatches = Callable[[], Iterable[Any]] | Iterable[Any]
"""``val_batches()``: the validation batches (the same every call); or a re-iterable of them."""

StopReason = Literal["completed", "early_stopping", "time_budget", "diverged"]


@dataclass
class EpochRecord:
    """What happened in one epoch (``epoch`` is 0-based)."""

    epoch: int
    steps: int
    train_loss: float  # mean of the step losses
    val_metrics: dict[str, float]
    lr: float  # rate of the epoch's last step
    grad_norm_mean: float  # global gradient norm before clipping
    grad_norm_max: float
    clipped_fraction: float  # share of steps whose norm exceeded clip_norm
    seconds: float  # wall time of training and validation
    # CPU time of this process (all its threads) in the same span: unlike wall time it hardly
    # grows when other processes share the cores (NaN in checkpoints from before it existed)
    cpu_seconds: float = math.nan


@dataclass
class StepInfo:
    """Passed to the ``on_step`` callback after backward and clipping, before the update.

    The model's ``.grad`` are already clipped; ``grad_norm`` is the norm before clipping.
    """

    epoch: int
    step: int  # 1-based global step
    loss: float
    grad_norm: float
    lr: float
    model: nn.Module


@dataclass
class TrainResult:
    """Outcome of :meth:`Trainer.fit`.

    ``status`` is ``diverged`` when a training loss or gradient norm was NaN/Inf (at
    ``diverged_at_step``, 1-based), else ``done``; ``stop_reason`` says why training ended.
    Metrics of epochs are those of ``model.metrics`` on the validation batches (the training
    loss under ``"loss"`` when there are none). Epochs are 0-based.
    """

    status: Literal["done", "diverged"]
    stop_reason: StopReason
    epochs_completed: int
    total_steps: int
    diverged_at_step: int | None
    best_epoch: int | None
    best_metric: float | None
    best_val_metrics: dict[str, float]
    final_val_metrics: dict[str, float]
    history: list[EpochRecord]
    wall_time_s: float
    clip_norm: float | None
    monitor: str
    mode: str
    device: str

    @property
    def stopped_early(self) -> bool:
        """True when early stopping ended the run."""
        return self.stop_reason == "early_stopping"

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready form (``history`` as a list of dicts)."""
        return {**asdict(self), "stopped_early": self.stopped_early}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainResult:
        """Inverse of :meth:`to_dict`."""
        values = {key: value for key, value in data.items() if key != "stopped_early"}
        values["history"] = [EpochRecord(**record) for record in data["history"]]
        return cls(**values)


@dataclass
class _RunState:
    """Everything besides weights, optimizer and RNGs that a resumed run must get back."""

    epoch: int = 0  # completed epochs
    step: int = 0  # optimizer steps attempted
    history: list[EpochRecord] = field(default_factory=list)
    best_metric: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0
    stop_reason: StopReason | None = None
    diverged_at_step: int | None = None
    elapsed_s: float = 0.0
    steps_per_epoch: int | None = None  # as measured, for the progress bar

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> _RunState:
        values = dict(data)
        values["history"] = [EpochRecord(**record) for record in data["history"]]
        return cls(**values)


@dataclass
class _EpochTotals:
    steps: int = 0
    loss_sum: float = 0.0
    norm_sum: float = 0.0
    norm_max: float = 0.0
    clipped: int = 0
    lr: float = 0.0


def _each_epoch(batches: Iterable[Any], name: str) -> Callable[..., Iterable[Any]]:
    """A callable giving ``batches`` anew on each call (any arguments ignored); a one-shot
    iterator (a generator object) would be empty from the second epoch on, so it is refused."""
    if not isinstance(batches, Iterable):
        raise UserInputError(
            f"{name} must be a callable returning the batches, or a list/DataLoader of batches; "
            f"got {type(batches).__name__}"
        )
    if iter(batches) is batches:
        raise UserInputError(
            f"{name} is a one-shot iterator ({type(batches).__name__}), empty after the first "
            "epoch; pass the function that makes it, or a list"
        )
    return lambda *args: batches


class Trainer:
    """Trains a task model: any ``nn.Module`` with ``loss(batch) -> scalar Tensor`` and (for
    validation) ``metrics(batch) -> dict[str, float]`` holding ``"loss"``; an optional
    ``reset_state()`` is called at the start of each epoch and before validation.

    Args:
        model: the model; moved to the configured device by :meth:`fit`.
        config: training settings (defaults: Adam, lr 1e-3, clipping at 1.0, 10 epochs).
        on_step: optional callback receiving a :class:`StepInfo` at every step (e.g. to record
            gradient norms for diagnostics).

    After :meth:`fit`: ``optimizer`` (the torch optimizer), ``result_`` (the last result).
    """

    def __init__(
        self,
        model: nn.Module,
        config: TrainConfig | None = None,
        *,
        on_step: Callable[[StepInfo], None] | None = None,
    ) -> None:
        if not callable(getattr(model, "loss", None)):
            raise UserInputError(
                f"the model ({type(model).__name__}) needs a loss(batch) method to be trained"
            )
        self.model = model
        self.config = config if config is not None else TrainConfig()
        self.on_step = on_step
        self.device = resolve_device(self.config.device)
        self.optimizer: torch.optim.Optimizer | None = None
        self.result_: TrainResult | None = None

    def fit(
        self,
        train_batches: TrainBatches,
        val_batches: ValBatches | None = None,
        *,
        resume: bool = False,
    ) -> TrainResult:
        """Train for ``config.epochs`` epochs (or until early stopping, divergence or budget).

        Args:
            train_batches: ``train_batches(epoch, generator)`` returns the epoch's batches; draw
                every random choice (shuffling, synthetic samples) from ``generator``, whose
                state is seeded from ``config.seed`` and checkpointed.
                A list or a DataLoader is accepted too (iterated once per epoch; a shuffling
                DataLoader then draws from torch's global RNG, which checkpoints restore).
            val_batches: ``val_batches()`` returns the validation batches, or a list of them;
                None trains without validation (then only ``monitor="loss"``, the training
                loss, is possible).
            resume: continue from the checkpoint in ``config.checkpoint_dir`` if there is one
                (else start afresh); a finished run's checkpoint returns its stored result.

        Returns:
            The :class:`TrainResult`; a diverged run returns (``status="diverged"``), it does
            not raise.

        Raises:
            UserInputError: bad arguments, a monitor the metrics lack, empty batches, or a
                checkpoint written with another configuration.
            CheckpointError: the checkpoint is corrupt, truncated or does not fit the model.
        """
        config = self.config
        if not callable(train_batches):
            train_batches = _each_epoch(train_batches, "train_batches")
        if val_batches is not None and not callable(val_batches):
            val_batches = _each_epoch(val_batches, "val_batches")
        if val_batches is None and config.monitor != "loss":
            raise UserInputError(
                f"monitor={config.monitor!r} needs validation batches; without them only "
                "'loss' (the training loss) can be monitored"
            )
        if val_batches is not None and not callable(getattr(self.model, "metrics", None)):
            raise UserInputError(
                f"the model ({type(self.model).__name__}) needs a metrics(batch) method to be "
                "validated"
            )
        if resume and config.checkpoint_dir is None:
            raise UserInputError("resume=True needs TrainConfig.checkpoint_dir")

        with deterministic_mode(config.deterministic, self.device), flush_denormals(self.device):
            self.model.to(self.device)
            self.optimizer = _make_optimizer(config, self.model)
            self._schedule = LRSchedule(config)
            self._best_weights: dict[str, torch.Tensor] | None = None
            generator = data_generator(config.seed)
            state = _RunState()
            path = None if config.checkpoint_dir is None else checkpoint_path(config.checkpoint_dir)
            if path is not None:
                remove_stale_temp_files(path.parent)
            if resume and path is not None and path.exists():
                checkpoint = load_checkpoint(path)
                self._check_compatible(checkpoint, path)
                if checkpoint["result"] is not None:
                    self._load_weights(checkpoint["model"], path)
                    self.result_ = TrainResult.from_dict(checkpoint["result"])
                    return self.result_
                state = self._restore(checkpoint, generator, path)
                logger.info("resuming %s after epoch %d", path, state.epoch)
            else:
                seed_everything(config.seed)
            self.result_ = self._run(train_batches, val_batches, generator, state, path)
            return self.result_

    # -- the loop -------------------------------------------------------------------------

    def _run(
        self,
        train_batches: TrainBatches,
        val_batches: ValBatches | None,
        generator: torch.Generator,
        state: _RunState,
        path: Path | None,
    ) -> TrainResult:
        config = self.config
        session_start = time.perf_counter()
        elapsed_before = state.elapsed_s
        with TrainingProgress(config.progress, config.epochs) as bar:
            while state.epoch < config.epochs and state.stop_reason is None:
                epoch = state.epoch
                epoch_start, epoch_cpu = time.perf_counter(), time.process_time()
                bar.start_epoch(epoch, config.steps_per_epoch or state.steps_per_epoch)
                totals = self._train_epoch(
                    epoch, train_batches, generator, state, bar, elapsed_before, session_start
                )
                if state.stop_reason == "diverged":
                    break
                state.steps_per_epoch = state.steps_per_epoch or totals.steps
                val_metrics = self._validate(val_batches) if val_batches is not None else {}
                train_loss = totals.loss_sum / totals.steps
                monitored = self._monitored(val_metrics, train_loss)
                state.history.append(
                    EpochRecord(
                        epoch=epoch,
                        steps=totals.steps,
                        train_loss=train_loss,
                        val_metrics=val_metrics,
                        lr=totals.lr,
                        grad_norm_mean=totals.norm_sum / totals.steps,
                        grad_norm_max=totals.norm_max,
                        clipped_fraction=totals.clipped / totals.steps,
                        seconds=time.perf_counter() - epoch_start,
                        cpu_seconds=time.process_time() - epoch_cpu,
                    )
                )
                self._track_best(state, epoch, monitored)
                self._schedule.end_epoch(monitored)
                state.epoch = epoch + 1
                out_of_patience = (
                    config.patience is not None and state.bad_epochs >= config.patience
                )
                if out_of_patience and state.epoch < config.epochs:
                    state.stop_reason = state.stop_reason or "early_stopping"
                state.elapsed_s = elapsed_before + time.perf_counter() - session_start
                if path is not None:
                    self._save(path, state, generator, result=None)
                summary = _summary(state.history[-1], config.epochs, monitored, config.monitor)
                logger.info(summary)
                bar.end_epoch(summary)
        state.elapsed_s = elapsed_before + time.perf_counter() - session_start
        return self._finish(state, generator, path)

    def _train_epoch(
        self,
        epoch: int,
        train_batches: TrainBatches,
        generator: torch.Generator,
        state: _RunState,
        bar: TrainingProgress,
        elapsed_before: float,
        session_start: float,
    ) -> _EpochTotals:
        config, model, optimizer = self.config, self.model, self.optimizer
        assert optimizer is not None
        params = [p for p in model.parameters() if p.requires_grad]
        # clip_grad_norm_ with an infinite bound measures the norm and scales by exactly 1.
        max_norm = config.clip_norm if config.clip_norm is not None else math.inf
        model.train()
        _reset_state(model)
        batches = train_batches(epoch, generator)
        # Unknown epoch lengths (generators) are measured in the first epoch; until then the
        # schedule sees whole epochs only.
        known_steps = config.steps_per_epoch or _length(batches) or state.steps_per_epoch
        iterator: Iterable[Any] = batches
        if config.steps_per_epoch is not None:
            iterator = itertools.islice(batches, config.steps_per_epoch)
        totals = _EpochTotals()
        for index, batch in enumerate(iterator):
            progress = epoch + index / known_steps if known_steps else float(epoch)
            totals.lr = self._schedule.rate(state.step, progress)
            for group in optimizer.param_groups:
                group["lr"] = totals.lr
            batch = to_device(batch, self.device)
            optimizer.zero_grad(set_to_none=True)
            loss = model.loss(batch)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
            # The guard needs both numbers before the update: one device sync per step.
            loss_value, norm_value = loss.item(), norm.item()
            state.step += 1
            if not (math.isfinite(loss_value) and math.isfinite(norm_value)):
                state.stop_reason = "diverged"
                state.diverged_at_step = state.step
                logger.warning(
                    "training diverged at step %d (loss %s, gradient norm %s)",
                    state.step,
                    loss_value,
                    norm_value,
                )
                return totals
            if self.on_step is not None:
                self.on_step(StepInfo(epoch, state.step, loss_value, norm_value, totals.lr, model))
            optimizer.step()
            totals.steps += 1
            totals.loss_sum += loss_value
            totals.norm_sum += norm_value
            totals.norm_max = max(totals.norm_max, norm_value)
            totals.clipped += config.clip_norm is not None and norm_value > config.clip_norm
            bar.step(loss_value)
            elapsed = elapsed_before + time.perf_counter() - session_start
            if config.max_time_s is not None and elapsed > config.max_time_s:
                state.stop_reason = "time_budget"
                break
        if totals.steps == 0:
            raise UserInputError(f"train_batches(epoch={epoch}, generator) yielded no batches")
        return totals

    @torch.no_grad()
    def _validate(self, val_batches: ValBatches) -> dict[str, float]:
        model = self.model
        model.eval()
        return mean_metrics(model, val_batches(), self.device, source="val_batches()")

    def _monitored(self, val_metrics: dict[str, float], train_loss: float) -> float:
        if not val_metrics:
            return train_loss
        if self.config.monitor not in val_metrics:
            raise UserInputError(
                f"monitor={self.config.monitor!r} is not among the validation metrics "
                f"({', '.join(sorted(val_metrics))})"
            )
        return val_metrics[self.config.monitor]

    def _track_best(self, state: _RunState, epoch: int, monitored: float) -> None:
        if improves(monitored, state.best_metric, self.config):
            state.best_metric = monitored
            state.best_epoch = epoch
            state.bad_epochs = 0
            if self.config.restore_best:
                self._best_weights = {
                    name: tensor.detach().clone()
                    for name, tensor in self.model.state_dict().items()
                }
        else:
            state.bad_epochs += 1

    def _finish(
        self, state: _RunState, generator: torch.Generator, path: Path | None
    ) -> TrainResult:
        config = self.config
        stop_reason: StopReason = state.stop_reason or "completed"
        if config.restore_best and self._best_weights is not None:
            self.model.load_state_dict(self._best_weights)
        by_epoch = {record.epoch: record for record in state.history}
        best = by_epoch.get(state.best_epoch) if state.best_epoch is not None else None
        result = TrainResult(
            status="diverged" if stop_reason == "diverged" else "done",
            stop_reason=stop_reason,
            epochs_completed=len(state.history),
            total_steps=state.step,
            diverged_at_step=state.diverged_at_step,
            best_epoch=state.best_epoch,
            best_metric=state.best_metric,
            best_val_metrics=dict(best.val_metrics) if best else {},
            final_val_metrics=dict(state.history[-1].val_metrics) if state.history else {},
            history=list(state.history),
            wall_time_s=state.elapsed_s,
            clip_norm=config.clip_norm,
            monitor=config.monitor,
            mode=config.mode,
            device=str(self.device),
        )
        if path is not None:
            self._save(path, state, generator, result=result)
        return result

    # -- checkpoints ------------------------------------------------------------------------

    def _save(
        self, path: Path, state: _RunState, generator: torch.Generator, result: TrainResult | None
    ) -> None:
        assert self.optimizer is not None
        save_checkpoint(
            {
                "config": self.config.to_dict(),
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "schedule": self._schedule.state_dict(),
                "rng": capture_rng_state(generator, cuda=self.device.type == "cuda"),
                "progress": state.to_dict(),
                "best_weights": self._best_weights,
                "result": None if result is None else result.to_dict(),
            },
            path,
        )

    def _check_compatible(self, checkpoint: dict[str, Any], path: Path) -> None:
        saved = checkpoint["config"]
        current = self.config.trajectory_fields()
        differences = [
            f"{name}: {saved.get(name)!r} in the checkpoint, {value!r} now"
            for name, value in current.items()
            if saved.get(name) != value
        ]
        if differences:
            raise UserInputError(
                f"checkpoint {path} was written with another configuration ("
                + "; ".join(differences)
                + "); resume with the same settings or use another checkpoint_dir"
            )

    def _load_weights(self, weights: dict[str, torch.Tensor], path: Path) -> None:
        try:
            self.model.load_state_dict(weights)
        except RuntimeError as error:
            raise CheckpointError(f"checkpoint {path} does not fit this model: {error}") from error

    def _restore(
        self, checkpoint: dict[str, Any], generator: torch.Generator, path: Path
    ) -> _RunState:
        assert self.optimizer is not None
        self._load_weights(checkpoint["model"], path)
        try:
            self.optimizer.load_state_dict(checkpoint["optimizer"])
            self._schedule.load_state_dict(checkpoint["schedule"])
            restore_rng_state(checkpoint["rng"], generator)
            state = _RunState.from_dict(checkpoint["progress"])
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise CheckpointError(
                f"checkpoint {path} holds an unreadable training state: {error}"
            ) from error
        best = checkpoint["best_weights"]
        if best is not None:
            self._best_weights = {name: tensor.to(self.device) for name, tensor in best.items()}
        return state


def _make_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise UserInputError(f"the model ({type(model).__name__}) has no trainable parameters")
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(
            params, lr=config.lr, weight_decay=config.weight_decay, momentum=config.momentum
        )
    return torch.optim.SGD(
        params, lr=config.lr, weight_decay=config.weight_decay, momentum=config.momentum
    )


@torch.no_grad()
def mean_metrics(
    model: nn.Module, batches: Iterable[Any], device: torch.device, *, source: str = "batches"
) -> dict[str, float]:
    """Mean of ``model.metrics`` over ``batches``, each batch weighted by its size.

    The model's carried state (language models) is reset first. ``source`` names the batches
    in the error raised when there are none.
    """
    _reset_state(model)
    totals: dict[str, float] = {}
    total_weight = 0
    for batch in batches:
        weight = batch_weight(batch)
        for name, value in model.metrics(to_device(batch, device)).items():
            totals[name] = totals.get(name, 0.0) + float(value) * weight
        total_weight += weight
    if total_weight == 0:
        raise UserInputError(f"{source} yielded no batches")
    return {name: total / total_weight for name, total in totals.items()}


def _reset_state(model: nn.Module) -> None:
    reset = getattr(model, "reset_state", None)
    if callable(reset):
        reset()


def _length(batches: Iterable[Any]) -> int | None:
    try:
        return len(batches)  # type: ignore[arg-type]
    except TypeError:
        return None


def _summary(record: EpochRecord, epochs: int, monitored: float, monitor: str) -> str:
    return (
        f"epoch {record.epoch + 1}/{epochs}: train loss {record.train_loss:.4g}, "
        f"{monitor} {monitored:.4g}, lr {record.lr:.3g}, "
        f"grad norm {record.grad_norm_mean:.3g} (max {record.grad_norm_max:.3g}), "
        f"{record.seconds:.1f}s"
    )
