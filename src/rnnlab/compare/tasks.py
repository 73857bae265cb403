"""The task registry: how each comparison task loads its data, which model head it trains,
which metric decides, and its default size and training settings.

A task is built in two steps: :func:`get_task` gives the :class:`TaskSpec` (cheap, no data),
and ``spec.build(options)`` loads the data and returns a :class:`TaskData` with batch makers and
a model factory. :func:`task_from_data` builds a :class:`TaskData` from an already loaded data
object (a user's CSV, for instance), so comparisons are not tied to the built-in names.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from rnnlab.data.containers import (
    Batch,
    ForecastData,
    LanguageModelData,
    MusicData,
    SequenceClassificationData,
)
from rnnlab.errors import UserInputError

BatchMaker = Callable[[int, torch.Generator], Iterable[Batch]]


@dataclass
class TaskData:
    """A loaded task, ready for training.

    Attributes:
        make_model: ``make_model(encoder, hidden_size, num_layers)`` builds the task model.
        train_batches: ``train_batches(batch_size)`` returns the trainer's
            ``(epoch, generator) -> batches`` callable.
        eval_batches: ``eval_batches(split, batch_size)`` returns the fixed batches of
            ``"val"`` or ``"test"``.
        input_size: features (or vocabulary size) per input step.
        seq_len: typical input length (for FLOPs per sequence and latency).
        description: one line on what was loaded (sizes), shown in reports.
    """

    make_model: Callable[[str, int, int], nn.Module]
    train_batches: Callable[[int], BatchMaker]
    eval_batches: Callable[[str, int], list[Batch]]
    input_size: int
    seq_len: int
    description: str = ""


@dataclass(frozen=True)
class TaskSpec:
    """A named comparison task.

    Attributes:
        name: registry name.
        family: ``synthetic``, ``classification``, ``forecasting``, ``language`` or ``music``.
        metric: the deciding metric (a key of the model's ``metrics``).
        higher_is_better: direction of ``metric``.
        builder: ``builder(options) -> TaskData``.
        options: default data options (size knobs), overridable per run.
        train: default training settings (``TrainConfig`` fields plus ``batch_size``).
        summary: one line for listings.
    """

    name: str
    family: str
    metric: str
    higher_is_better: bool
    builder: Callable[[dict[str, Any]], TaskData] = field(repr=False)
    options: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    summary: str = ""

    def build(self, options: dict[str, Any] | None = None) -> TaskData:
        """Load the task with ``options`` on top of the defaults (cached per process)."""
        merged = {**self.options, **(options or {})}
        unknown = set(merged) - set(self.options)
        if unknown:
            raise UserInputError(
                f"task {self.name!r} has no option(s) {sorted(unknown)}; "
                f"options: {sorted(self.options)}"
            )
        return _build_cached(self.name, json.dumps(merged, sort_keys=True))


@functools.lru_cache(maxsize=8)
def _build_cached(name: str, options_json: str) -> TaskData:
    return TASKS[name].builder(json.loads(options_json))


# ----------------------------------------------------------------------------- batch helpers


def _chunks(batch: Batch, batch_size: int) -> list[Batch]:
    """Split a fixed evaluation batch into batches of ``batch_size``."""
    n = len(batch)
    return [
        Batch(
            batch.x[i : i + batch_size],
            batch.y[i : i + batch_size],
            None if batch.lengths is None else batch.lengths[i : i + batch_size],
            None if batch.target_lengths is None else batch.target_lengths[i : i + batch_size],
        )
        for i in range(0, n, batch_size)
    ]


# ------------------------------------------------------------------------------- synthetic


def _synthetic(name: str, options: dict[str, Any]) -> TaskData:
    from rnnlab.data.synthetic import make_task
    from rnnlab.models import Seq2Seq, SequenceRegressor, SequenceTagger

    length = int(options["length"])
    train_size = int(options["train_size"])
    extra = {k: v for k, v in options.items() if k not in ("length", "train_size", "eval_size")}
    task = make_task(
        name,
        length,
        seed=0,
        val_size=int(options["eval_size"]),
        test_size=int(options["eval_size"]),
        **extra,
    )

    def make_model(encoder: str, hidden_size: int, num_layers: int) -> nn.Module:
        if task.kind == "regression":
            return SequenceRegressor(
                encoder=encoder,
                input_size=task.input_size,
                hidden_size=hidden_size,
                num_layers=num_layers,
            )
        if task.kind == "tagging":
            return SequenceTagger(
                encoder=encoder,
                input_size=task.input_size,
                num_classes=task.num_classes,
                hidden_size=hidden_size,
                num_layers=num_layers,
                recall_steps=int(options.get("memory", 10)),
            )
        return Seq2Seq(
            encoder=encoder,
            vocab_size=task.input_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
        )

    def train_batches(batch_size: int) -> BatchMaker:
        steps = max(1, train_size // batch_size)

        def batches(epoch: int, generator: torch.Generator) -> Iterator[Batch]:
            for _ in range(steps):
                yield task.batch(batch_size, generator)

        return batches

    def eval_batches(split: str, batch_size: int) -> list[Batch]:
        fixed = task.validation_set() if split == "val" else task.test_set()
        return _chunks(fixed, batch_size)

    seq_len = int(task.validation_set().x.shape[1])
    return TaskData(
        make_model,
        train_batches,
        eval_batches,
        task.input_size,
        seq_len,
        f"{name} T={length}: {train_size} fresh training sequences per epoch, "
        f"{options['eval_size']} validation / test",
    )


# ------------------------------------------------------------------------- real data sets


def _load(name: str, options: dict[str, Any]) -> Any:
    from rnnlab.data import datasets

    extra = {k: v for k, v in options.items() if k not in ("limit",) and not k.startswith("_")}
    return datasets.load(name, limit=options.get("limit"), **extra)


def task_from_data(data: Any, options: dict[str, Any] | None = None) -> TaskData:
    """Build a :class:`TaskData` from a loaded data container.

    Works for every container of :mod:`rnnlab.data.containers`, built-in or read from a
    user's file: :class:`SequenceClassificationData` (classifier), :class:`ForecastData`
    (forecaster; ``options`` ``window`` and ``horizon``), :class:`LanguageModelData`
    (character LM; ``seq_len``) and :class:`MusicData` (music model).
    """
    options = options or {}
    if isinstance(data, SequenceClassificationData):
        return _classification(data)
    if isinstance(data, ForecastData):
        return _forecasting(data, int(options.get("window", 24)), int(options.get("horizon", 1)))
    if isinstance(data, LanguageModelData):
        return _language(data, int(options.get("seq_len", 64)))
    if isinstance(data, MusicData):
        return _music(data)
    raise UserInputError(
        f"cannot build a comparison task from a {type(data).__name__}; expected a "
        "SequenceClassificationData, ForecastData, LanguageModelData or MusicData"
    )


def _classification(data: SequenceClassificationData) -> TaskData:
    from rnnlab.models import ClassifierNet

    tokens = data.vocab is not None

    def make_model(encoder: str, hidden_size: int, num_layers: int) -> nn.Module:
        return ClassifierNet(
            encoder=encoder,
            input_size=data.input_size,
            num_classes=data.num_classes,
            hidden_size=hidden_size,
            num_layers=num_layers,
            embedding_dim=32 if tokens else None,
        )

    def train_batches(batch_size: int) -> BatchMaker:
        return lambda epoch, generator: data.train.batches(batch_size, generator)

    def eval_batches(split: str, batch_size: int) -> list[Batch]:
        return list(data.split(split).batches(batch_size))

    seq_len = int(data.train.lengths.float().mean().round())
    sizes = f"{len(data.train)} / {len(data.val)} / {len(data.test)}"
    return TaskData(
        make_model,
        train_batches,
        eval_batches,
        data.input_size,
        seq_len,
        f"{data.name}: {sizes} sequences (train/val/test), {data.num_classes} classes",
    )


def _forecasting(data: ForecastData, window: int, horizon: int) -> TaskData:
    from rnnlab.models import ForecastNet

    sets = {split: data.window_set(split, window, horizon) for split in ("train", "val", "test")}
    future_size = len(data.future_covariate_columns)

    def make_model(encoder: str, hidden_size: int, num_layers: int) -> nn.Module:
        return ForecastNet(
            encoder=encoder,
            input_size=data.input_size,
            horizon=horizon,
            n_targets=len(data.target_columns),
            future_size=future_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
        )

    def train_batches(batch_size: int) -> BatchMaker:
        return lambda epoch, generator: sets["train"].batches(batch_size, generator)

    counts = " / ".join(str(len(sets[s].x)) for s in ("train", "val", "test"))
    return TaskData(
        make_model,
        train_batches,
        lambda split, batch_size: list(sets[split].batches(batch_size)),
        data.input_size,
        window,
        f"{data.name}: window {window}, horizon {horizon}, {counts} windows (train/val/test), "
        "metric on standardised targets",
    )


LM_EVAL_ROWS = 16
"""Rows of the contiguous evaluation stream of a language model (fewer when the split is too
short): few rows keep each row long, so the carried state sees long contexts."""


def _language(data: LanguageModelData, seq_len: int) -> TaskData:
    from rnnlab.models import CharLanguageModel

    def make_model(encoder: str, hidden_size: int, num_layers: int) -> nn.Module:
        # Batches are contiguous streams (row i of batch k + 1 continues row i of batch k),
        # so the final state of a batch, detached, starts the next one (truncated BPTT).
        return CharLanguageModel(
            encoder=encoder,
            vocab_size=data.vocab_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            carry_state=True,
        )

    def train_batches(batch_size: int) -> BatchMaker:
        return lambda epoch, generator: data.batches(
            "train", batch_size, seq_len, generator, contiguous=True
        )

    def eval_batches(split: str, batch_size: int) -> list[Batch]:
        tokens = len(data.split(split))
        rows = max(1, min(batch_size, LM_EVAL_ROWS, (tokens - 1) // (seq_len + 1)))
        batches = list(data.batches(split, rows, seq_len, contiguous=True))
        # Averages weigh batches equally (by rows), so a last batch shorter in time would
        # count too much: drop it (fewer than seq_len targets per row are lost).
        if len(batches) > 1 and batches[-1].x.shape[1] < seq_len:
            batches.pop()
        return batches

    sizes = f"{len(data.train)} / {len(data.val)} / {len(data.test)}"
    return TaskData(
        make_model,
        train_batches,
        eval_batches,
        data.vocab_size,
        seq_len,
        f"{data.name}: {sizes} characters (train/val/test), truncated BPTT over {seq_len} "
        "steps with the state carried",
    )


def _music(data: MusicData) -> TaskData:
    from rnnlab.models import MusicModel

    def make_model(encoder: str, hidden_size: int, num_layers: int) -> nn.Module:
        return MusicModel(
            encoder=encoder,
            num_pitches=data.num_pitches,
            hidden_size=hidden_size,
            num_layers=num_layers,
        )

    def train_batches(batch_size: int) -> BatchMaker:
        return lambda epoch, generator: data.batches("train", batch_size, generator)

    def eval_batches(split: str, batch_size: int) -> list[Batch]:
        return list(data.batches(split, batch_size))

    seq_len = int(sum(len(r) for r in data.train) / max(1, len(data.train)))
    sizes = f"{len(data.train)} / {len(data.val)} / {len(data.test)}"
    return TaskData(
        make_model,
        train_batches,
        eval_batches,
        data.num_pitches,
        seq_len,
        f"{data.name}: {sizes} pieces (train/val/test), {data.num_pitches} pitches",
    )


def _dataset_builder(name: str) -> Callable[[dict[str, Any]], TaskData]:
    def build(options: dict[str, Any]) -> TaskData:
        task_options = {k: options[k] for k in ("window", "horizon", "seq_len") if k in options}
        loader_options = {k: v for k, v in options.items() if k not in task_options}
        return task_from_data(_load(name, loader_options), task_options)

    return build


def load_user_data(kind: str, options: dict[str, Any]) -> Any:
    """The container of a ``user-forecast`` / ``user-classify`` task: the file at
    ``options["path"]`` read with the loader options ``options["loader"]``."""
    from rnnlab.data import user

    if not options.get("path"):
        raise UserInputError(f"task 'user-{kind}' needs the data file (--data FILE)")
    loader = dict(options.get("loader") or {})
    if kind == "forecast":
        return user.load_forecast_csv(options["path"], **loader)
    return user.load_classification_csv(options["path"], **loader)


def _user_builder(kind: str) -> Callable[[dict[str, Any]], TaskData]:
    return lambda options: task_from_data(load_user_data(kind, options), options)


def _synthetic_builder(name: str) -> Callable[[dict[str, Any]], TaskData]:
    return lambda options: _synthetic(name, options)


# -------------------------------------------------------------------------------- registry

_SYNTH_TRAIN = {"epochs": 10, "lr": 1e-3, "batch_size": 32, "clip_norm": 1.0}
_DATA_TRAIN = {"epochs": 10, "lr": 1e-3, "batch_size": 32, "clip_norm": 1.0}


def _spec(
    name: str,
    family: str,
    metric: str,
    higher: bool,
    builder: Callable[[dict[str, Any]], TaskData],
    options: dict[str, Any],
    summary: str,
    **train: Any,
) -> TaskSpec:
    base = _SYNTH_TRAIN if family == "synthetic" else _DATA_TRAIN
    return TaskSpec(name, family, metric, higher, builder, options, {**base, **train}, summary)


TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in [
        _spec(
            "adding",
            "synthetic",
            "mse",
            False,
            _synthetic_builder("adding"),
            {"length": 200, "train_size": 6400, "eval_size": 1000},
            "adding problem (Hochreiter & Schmidhuber 1997); chance MSE 1/6",
        ),
        _spec(
            "copy",
            "synthetic",
            "cross_entropy",
            False,
            _synthetic_builder("copy"),
            {"length": 100, "train_size": 6400, "eval_size": 1000, "memory": 10},
            "copy memory (Bai et al. 2018); chance CE 10 ln 8 / (T + 20)",
        ),
        _spec(
            "reverse",
            "synthetic",
            "sequence_accuracy",
            True,
            _synthetic_builder("reverse"),
            {"length": 10, "train_size": 6400, "eval_size": 500},
            "reverse a digit string (seq2seq with attention)",
        ),
        _spec(
            "digit-add",
            "synthetic",
            "sequence_accuracy",
            True,
            _synthetic_builder("digit-add"),
            {"length": 4, "train_size": 6400, "eval_size": 500},
            "add two numbers written as digit strings (seq2seq with attention)",
        ),
        _spec(
            "japanese-vowels",
            "classification",
            "accuracy",
            True,
            _dataset_builder("japanese-vowels"),
            {"limit": None},
            "speaker of a Japanese vowel (9 classes, variable length)",
        ),
        _spec(
            "spoken-digits",
            "classification",
            "accuracy",
            True,
            _dataset_builder("spoken-digits"),
            {"limit": None},
            "spoken digit from MFCCs (10 classes)",
        ),
        _spec(
            "mnist-rows",
            "classification",
            "accuracy",
            True,
            _dataset_builder("mnist-rows"),
            {"limit": None},
            "MNIST digits read row by row (28 steps; 5k-image subset)",
        ),
        _spec(
            "mnist-pixels",
            "classification",
            "accuracy",
            True,
            _dataset_builder("mnist-pixels"),
            {"limit": None, "permute_seed": None},
            "sequential MNIST, one pixel per step (784 steps; 5k-image subset)",
        ),
        _spec(
            "rotten-tomatoes",
            "classification",
            "accuracy",
            True,
            _dataset_builder("rotten-tomatoes"),
            {"limit": None, "level": "word"},
            "sentiment of movie-review snippets (2 classes, word tokens)",
        ),
        _spec(
            "sunspots",
            "forecasting",
            "mse",
            False,
            _dataset_builder("sunspots"),
            {"limit": None, "window": 48, "horizon": 1},
            "monthly sunspot numbers, one step ahead (standardised MSE)",
        ),
        _spec(
            "elecdemand",
            "forecasting",
            "mse",
            False,
            _dataset_builder("elecdemand"),
            {"limit": None, "window": 96, "horizon": 48},
            "half-hourly electricity demand, next day (standardised MSE)",
        ),
        _spec(
            "shakespeare",
            "language",
            "bits_per_char",
            False,
            _dataset_builder("shakespeare"),
            {"limit": 1_000_000, "seq_len": 100},
            "character-level language model on Shakespeare's plays",
        ),
        _spec(
            "bach-chorales",
            "music",
            "nll_per_frame",
            False,
            _dataset_builder("bach-chorales"),
            {"limit": None},
            "polyphonic music: next-frame NLL on Bach chorales (music21 corpus)",
        ),
        _spec(
            "user-forecast",
            "forecasting",
            "mse",
            False,
            _user_builder("forecast"),
            {"path": None, "sha256": None, "loader": {}, "window": 24, "horizon": 1},
            "your CSV, forecasting (rnnlab.data.user.load_forecast_csv)",
        ),
        _spec(
            "user-classify",
            "classification",
            "accuracy",
            True,
            _user_builder("classify"),
            {"path": None, "sha256": None, "loader": {}},
            "your CSV, sequence classification (rnnlab.data.user.load_classification_csv)",
        ),
    ]
}

USER_TASKS = {"forecast": "user-forecast", "classify": "user-classify"}
"""``--kind`` of ``rnnlab compare --data FILE`` -> task name."""

LENGTH_TASKS = ("adding", "copy", "reverse", "digit-add")
"""Tasks whose ``length`` option is the sequence length (the report plots metric vs length)."""


def get_task(name: str) -> TaskSpec:
    """The spec of task ``name``; UserInputError listing the valid names (and the closest)."""
    if name not in TASKS:
        close = difflib.get_close_matches(name, TASKS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UserInputError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}.{hint}")
    return TASKS[name]
