"""The containers every loader of :mod:`rnnlab.data` returns.

Conventions shared by all containers (models and the trainer rely on them):

- Tensors are **batch-first**: a batch of sequences is ``(B, T, I)``; a model that wants
  time-major input transposes it.
- Padded positions hold zeros (token id 0 = ``<pad>`` for token sequences) and ``lengths``
  (int64, ``(B,)``) gives each sequence's true length, ready for
  ``torch.nn.utils.rnn.pack_padded_sequence``. Nothing is truncated.
- Floats are ``torch.float32``; labels, token ids and lengths are ``torch.int64``.
- Preprocessing (scalers, vocabularies) is fitted on the training split only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from typing import TypeAlias

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from rnnlab.errors import UserInputError

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
"""Special tokens. ``<pad>`` always has id 0 in every vocabulary rnnlab builds."""


@dataclass
class Batch:
    """One mini-batch, batch-first.

    Attributes:
        x: inputs. Float ``(B, T, I)`` for real-valued sequences (adding: ``I = 2``; copy
            memory: ``I = 1`` raw digit values or ``I = 10`` one-hot; music: ``I = P``), or
            int64 ``(B, T)`` token ids (text, seq2seq sources).
        y: targets. Regression: float ``(B,)`` (adding) or ``(B, H, n_targets)``
            (forecasting); classification: int64 ``(B,)``; tagging: int64 ``(B, T)`` (a class
            per step, copy memory); seq2seq and language modelling: int64 ``(B, U)`` token ids
            (seq2seq targets end with ``</s>`` and are padded with ``<pad>`` = 0; the decoder
            input is ``<s>`` followed by ``y[:, :-1]``); music: float 0/1 ``(B, T, P)``.
        lengths: int64 ``(B,)`` valid input steps, or None when every sequence has length T.
        target_lengths: int64 ``(B,)`` valid target steps (``</s>`` included) for seq2seq and
            variable-length per-step targets, else None.
        future: float ``(B, horizon, F)`` future-known covariates over the forecast horizon
            (calendar, planned events) for forecasting with such covariates, else None.

    :meth:`to` and :meth:`select` apply to every tensor field, also to fields a subclass adds;
    every tensor field has the batch on its first dimension.
    """

    x: Tensor
    y: Tensor
    lengths: Tensor | None = None
    target_lengths: Tensor | None = None
    future: Tensor | None = None

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def _map(self, fn: Callable[[Tensor], Tensor]) -> Batch:
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.init}
        return replace(
            self, **{k: fn(v) if isinstance(v, Tensor) else v for k, v in values.items()}
        )

    def to(self, device: torch.device | str) -> Batch:
        """Return the batch (of the same class) with every tensor moved to ``device``."""
        return self._map(lambda t: t.to(device))

    def select(self, index: slice | Tensor | list[int]) -> Batch:
        """The rows ``index`` of every tensor (a slice, int64 positions or a bool mask)."""
        return self._map(lambda t: t[index])


def pad_sequences(
    sequences: list[Tensor], pad_value: float = 0.0, empty_shape: tuple[int, ...] = ()
) -> tuple[Tensor, Tensor]:
    """Stack variable-length sequences (each ``(T_i, *feature_shape)``) into
    ``(N, T_max, *feature_shape)``.

    Returns the padded tensor and the int64 lengths ``(N,)``. An empty list gives a
    ``(0, 0, *empty_shape)`` tensor (an empty split).
    """
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.int64)
    if not sequences:
        return torch.zeros((0, 0, *empty_shape)), lengths
    padded = torch.nn.utils.rnn.pad_sequence(sequences, batch_first=True, padding_value=pad_value)
    return padded, lengths


@dataclass
class SequenceSet:
    """A split of variable-length sequences with one label each.

    Attributes:
        x: float32 ``(N, T_max, I)`` zero-padded features, or int64 ``(N, T_max)`` token ids
            (padded with 0 = ``<pad>``) when the owning data has a ``vocab``.
        lengths: int64 ``(N,)`` true lengths (1 ≤ length ≤ T_max).
        y: int64 ``(N,)`` class indices in ``[0, num_classes)``.
        indices: int64 ``(N,)`` positions of these sequences in the source data set (how a
            seeded split is stored and reproduced), or None.
    """

    x: Tensor
    lengths: Tensor
    y: Tensor
    indices: Tensor | None = None

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def subset(self, index: Tensor | np.ndarray | list[int]) -> SequenceSet:
        """The sequences at ``index`` (padding trimmed to their own longest length)."""
        index = torch.as_tensor(np.asarray(index), dtype=torch.int64)
        lengths = self.lengths[index]
        t_max = int(lengths.max()) if len(index) else 0
        indices = None if self.indices is None else self.indices[index]
        return SequenceSet(self.x[index, :t_max], lengths, self.y[index], indices)

    def batches(self, batch_size: int, generator: torch.Generator | None = None) -> Iterator[Batch]:
        """Yield mini-batches; shuffled with ``generator`` when given, else in order.

        Each batch's padding is trimmed to its own longest sequence.
        """
        n = len(self)
        order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
        for start in range(0, n, batch_size):
            part = self.subset(order[start : start + batch_size])
            yield Batch(part.x, part.y, part.lengths)

    def class_counts(self, num_classes: int) -> Tensor:
        """int64 ``(num_classes,)``: how many sequences of each class."""
        return torch.bincount(self.y, minlength=num_classes)


@dataclass
class SequenceClassificationData:
    """Sequence classification: train/val/test splits of :class:`SequenceSet`.

    Attributes:
        train, val, test: the splits (fixed; official where the source has one).
        num_classes: number of classes; labels are ``0 .. num_classes - 1``.
        class_names: ``class_names[k]`` is the original label of class ``k``.
        input_size: features per step ``I`` (for token data: the vocabulary size).
        vocab: token strings for token-id inputs (``vocab[0] == "<pad>"``), else None.
        name: data set name (or file name for user data).
        summary: one line saying what was read, kept, sorted or filled.
    """

    train: SequenceSet
    val: SequenceSet
    test: SequenceSet
    num_classes: int
    class_names: list[str]
    input_size: int
    vocab: list[str] | None = None
    name: str = ""
    summary: str = ""

    def split(self, name: str) -> SequenceSet:
        """The split called ``name`` (``"train"``, ``"val"`` or ``"test"``)."""
        return _pick_split(self, name)


@dataclass
class LanguageModelData:
    """Token-level language modelling on one long stream per split.

    Attributes:
        train, val, test: int64 1-D tensors of token ids.
        vocab: ``vocab[i]`` is the string of id ``i``; built from the training split only
            (id 0 is ``<pad>``, id 1 ``<unk>`` for symbols unseen in training).
        name, summary: as in :class:`SequenceClassificationData`.
    """

    train: Tensor
    val: Tensor
    test: Tensor
    vocab: list[str]
    name: str = ""
    summary: str = ""

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def split(self, name: str) -> Tensor:
        """The token stream of split ``name``."""
        return _pick_split(self, name)

    def decode(self, ids: Tensor | list[int]) -> str:
        """Join the strings of ``ids`` (characters are joined without separator)."""
        tokens = [self.vocab[int(i)] for i in ids]
        joiner = "" if all(len(t) == 1 for t in self.vocab[2:]) else " "
        return joiner.join(tokens)

    def batches(
        self,
        split: str,
        batch_size: int,
        seq_len: int,
        generator: torch.Generator | None = None,
        *,
        contiguous: bool = False,
    ) -> Iterator[Batch]:
        """Yield next-token batches: ``x`` int64 ``(B, seq_len)``, ``y`` = ``x`` shifted by one.

        Two layouts:

        - ``contiguous=False`` (default): the stream is cut into consecutive chunks of
          ``seq_len`` steps (each chunk's targets reach one token into the next chunk), so
          every token but the first is a target once per pass (a tail shorter than
          ``seq_len`` is dropped); chunks are shuffled with ``generator`` when given.
          Rows of one batch are unrelated, so a model must not carry its state across batches.
        - ``contiguous=True`` ("batchify", as in PyTorch's word_language_model example), for
          truncated BPTT with a carried state: the stream is cut into ``batch_size``
          contiguous rows of ``len(stream) // batch_size`` tokens (the remainder is dropped)
          and batch ``k`` takes steps ``k * seq_len ..`` of every row, so row ``i`` of batch
          ``k + 1`` continues row ``i`` of batch ``k``. Every batch has ``batch_size`` rows;
          the last one may be shorter than ``seq_len`` in time, so average per-batch metrics
          weighted by tokens (``b.y.numel()``), not rows. Every token of a row but its first
          is a target once per pass. With ``generator`` the rows start at a random
          offset in ``[0, seq_len)`` of the stream, so chunk boundaries move from epoch to
          epoch; order is never shuffled. Reset the carried state at the start of each pass.
        """
        if batch_size < 1 or seq_len < 1:
            raise UserInputError(f"batch_size and seq_len must be ≥ 1, got {batch_size}, {seq_len}")
        stream = self.split(split)
        if contiguous:
            yield from _contiguous_batches(stream, split, batch_size, seq_len, generator)
            return
        n_chunks = (len(stream) - 1) // seq_len
        if n_chunks < 1:
            raise UserInputError(
                f"split {split!r} has {len(stream)} tokens, fewer than seq_len + 1 = {seq_len + 1}"
            )
        starts = torch.arange(n_chunks) * seq_len
        if generator is not None:
            starts = starts[torch.randperm(n_chunks, generator=generator)]
        offsets = torch.arange(seq_len + 1)
        for first in range(0, n_chunks, batch_size):
            chunk = stream[starts[first : first + batch_size, None] + offsets]
            yield Batch(chunk[:, :-1], chunk[:, 1:])


def _contiguous_batches(
    stream: Tensor,
    split: str,
    batch_size: int,
    seq_len: int,
    generator: torch.Generator | None,
) -> Iterator[Batch]:
    """The ``contiguous=True`` layout of :meth:`LanguageModelData.batches`."""
    # Tokens that can be skipped at the start while every row keeps an input and a target.
    spare = len(stream) - 2 * batch_size
    offset = 0
    if generator is not None and spare > 0:
        offset = int(torch.randint(min(seq_len, spare + 1), (1,), generator=generator))
    row_len = (len(stream) - offset) // batch_size
    if row_len < 2:
        raise UserInputError(
            f"split {split!r} has {len(stream)} tokens, too few for {batch_size} contiguous "
            f"rows of at least 2 tokens; use a smaller batch_size"
        )
    rows = stream[offset : offset + batch_size * row_len].view(batch_size, row_len)
    for start in range(0, row_len - 1, seq_len):
        stop = min(start + seq_len, row_len - 1)
        yield Batch(rows[:, start:stop], rows[:, start + 1 : stop + 1])


@dataclass
class MusicData:
    """Polyphonic music as binary piano rolls (frame-level multi-label).

    Attributes:
        train, val, test: lists of float32 ``(T_i, P)`` 0/1 piano rolls, one frame per
            quarter note; column ``p`` is MIDI pitch ``pitch_range[0] + p``.
        pitch_range: ``(lowest, highest)`` MIDI pitch, inclusive; ``P = highest - lowest + 1``
            (88 piano keys, 21..108, the convention of the published NLL-per-frame figures).
        name, summary: as in :class:`SequenceClassificationData`.
    """

    train: list[Tensor]
    val: list[Tensor]
    test: list[Tensor]
    pitch_range: tuple[int, int]
    name: str = ""
    summary: str = ""

    @property
    def num_pitches(self) -> int:
        return self.pitch_range[1] - self.pitch_range[0] + 1

    def split(self, name: str) -> list[Tensor]:
        """The piano rolls of split ``name``."""
        return _pick_split(self, name)

    def batches(
        self, split: str, batch_size: int, generator: torch.Generator | None = None
    ) -> Iterator[Batch]:
        """Yield next-frame batches like locuslab/TCN: ``x = roll[:-1]``, ``y = roll[1:]``.

        ``x`` and ``y`` are float ``(B, T_max - 1, P)`` zero-padded, ``lengths`` = ``T_i - 1``.
        """
        rolls = self.split(split)
        n = len(rolls)
        order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
        for start in range(0, n, batch_size):
            chosen = [rolls[int(i)] for i in order[start : start + batch_size]]
            x, lengths = pad_sequences([r[:-1] for r in chosen])
            y, _ = pad_sequences([r[1:] for r in chosen])
            yield Batch(x, y, lengths)


@dataclass
class ForecastScaler:
    """Per-series standardisation fitted on the training split.

    ``mean_`` and ``scale_`` are float64 ``(S, C)`` for S series and the C columns of
    ``columns`` (targets first, then covariates). A column constant in training gets scale 1.
    """

    columns: list[str]
    mean_: np.ndarray
    scale_: np.ndarray

    @classmethod
    def fit(cls, frames: list[pd.DataFrame], columns: list[str]) -> ForecastScaler:
        """Fit on one training frame per series."""
        mean = np.stack([f[columns].to_numpy(np.float64).mean(axis=0) for f in frames])
        std = np.stack([f[columns].to_numpy(np.float64).std(axis=0) for f in frames])
        return cls(list(columns), mean, np.where(std > 0, std, 1.0))

    def transform(self, values: np.ndarray, series: int) -> np.ndarray:
        """Scale ``(T, C)`` values of series number ``series``."""
        return (values - self.mean_[series]) / self.scale_[series]

    def inverse_targets(self, y: Tensor | np.ndarray, series: Tensor | np.ndarray) -> np.ndarray:
        """Undo the scaling of targets ``y`` ``(N, H, n_targets)``; ``series`` ``(N,)``.

        Assumes the targets are the first ``n_targets`` columns, as :meth:`ForecastData.windows`
        lays them out. Returns float64 numpy.
        """
        y = np.asarray(y.detach().cpu() if isinstance(y, Tensor) else y, dtype=np.float64)
        series = np.asarray(series, dtype=np.int64)
        k = y.shape[-1]
        return y * self.scale_[series, None, :k] + self.mean_[series, None, :k]


@dataclass
class ForecastWindows:
    """Sliding windows of one split (see :meth:`ForecastData.window_set`).

    Attributes:
        x: float32 ``(N, window, I)``: scaled targets, past covariates, future covariates.
        y: float32 ``(N, horizon, n_targets)``: scaled targets to predict.
        future: float32 ``(N, horizon, F)`` future-known covariates over the horizon, or None.
        series: int64 ``(N,)`` index into :attr:`ForecastData.series_ids`.
        start: ``(N,)`` timestamps (or step numbers) of the first forecast step.
    """

    x: Tensor
    y: Tensor
    future: Tensor | None
    series: Tensor
    start: np.ndarray

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def batches(self, batch_size: int, generator: torch.Generator | None = None) -> Iterator[Batch]:
        """Yield :class:`Batch` ``(x, y, future=future)`` of ``batch_size`` windows (the last
        may be smaller); shuffled with ``generator`` when given, else in order."""
        if batch_size < 1:
            raise UserInputError(f"batch_size must be ≥ 1, got {batch_size}")
        n = len(self)
        order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
        whole = Batch(self.x, self.y, future=self.future)
        for start in range(0, n, batch_size):
            yield whole.select(order[start : start + batch_size])


@dataclass
class ForecastData:
    """Forecasting: one or many series split chronologically into train/val/test.

    Attributes:
        train, val, test: DataFrames sorted by series then time, with columns
            ``time_column``, ``series_column`` (when several series), ``target_columns`` and
            covariates. Values are in original units; val/test follow train in time.
        target_columns: columns to forecast.
        covariate_columns: covariates known only up to the forecast origin (past-only).
        future_covariate_columns: covariates known in advance over the horizon too
            (calendar, planned events, weather forecasts).
        freq: pandas frequency string (e.g. ``"MS"``, ``"30min"``) or None (integer steps).
        season_length: steps per season for seasonal baselines (12 monthly, 48 half-hourly).
        time_column: name of the time column.
        series_column: name of the series-id column, or None for a single series.
        scaler: :class:`ForecastScaler` fitted on train (set automatically).
        name, summary: as in :class:`SequenceClassificationData`.
    """

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    target_columns: list[str]
    covariate_columns: list[str] = field(default_factory=list)
    future_covariate_columns: list[str] = field(default_factory=list)
    freq: str | None = None
    season_length: int | None = None
    time_column: str = "time"
    series_column: str | None = None
    name: str = ""
    summary: str = ""
    scaler: ForecastScaler = field(init=False)

    def __post_init__(self) -> None:
        self.scaler = ForecastScaler.fit(
            [frame for _, frame in self.per_series(self.train)], self.feature_columns
        )

    @property
    def feature_columns(self) -> list[str]:
        """Columns of ``x`` in :meth:`windows`, in order: targets, past, future covariates."""
        return [*self.target_columns, *self.covariate_columns, *self.future_covariate_columns]

    @property
    def input_size(self) -> int:
        return len(self.feature_columns)

    @property
    def series_ids(self) -> list[str]:
        """Series names, in the order of the scaler's rows and of ``ForecastWindows.series``."""
        return [name for name, _ in self.per_series(self.train)]

    def split(self, name: str) -> pd.DataFrame:
        """The frame of split ``name``."""
        return _pick_split(self, name)

    def per_series(self, frame: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
        """``(series id, rows)`` pairs of ``frame`` in sorted id order; one ``"series"`` pair
        when the data hold a single series."""
        if self.series_column is None:
            return [("series", frame)]
        return [(str(k), g) for k, g in frame.groupby(self.series_column, sort=True)]

    def windows(
        self, split: str, window: int, horizon: int, stride: int = 1
    ) -> tuple[Tensor, Tensor]:
        """Scaled sliding windows ``(x (N, window, I), y (N, horizon, n_targets))``.

        For ``val`` and ``test`` the input window may reach back into the earlier splits, so
        the first forecast starts at the first step of the split and every target step of the
        split is predicted; targets never leave the split.
        """
        ws = self.window_set(split, window, horizon, stride)
        return ws.x, ws.y

    def window_set(self, split: str, window: int, horizon: int, stride: int = 1) -> ForecastWindows:
        """Like :meth:`windows` plus future covariates, series index and start times."""
        if window < 1 or horizon < 1 or stride < 1:
            raise UserInputError(
                f"window, horizon and stride must be ≥ 1, got {window}, {horizon}, {stride}"
            )
        order = ["train", "val", "test"]
        if split not in order:
            raise UserInputError(f"unknown split {split!r}; expected one of {order}")
        earlier = order[: order.index(split)]
        n_future = len(self.future_covariate_columns)
        xs, ys, futures, series, starts = [], [], [], [], []
        row_of = {sid: i for i, sid in enumerate(self.series_ids)}
        earlier_parts = [dict(self.per_series(self.split(name))) for name in earlier]
        for sid, part in self.per_series(self.split(split)):
            if sid not in row_of:
                raise UserInputError(f"series {sid!r} of split {split!r} has no training data")
            s = row_of[sid]
            history = [parts[sid] for parts in earlier_parts if sid in parts]
            context = pd.concat([*history, part]) if history else part
            first_target = len(context) - len(part) if history else window
            first_target = max(first_target, window)
            n_windows = (len(context) - horizon - first_target) // stride + 1
            if n_windows < 1:
                label = "" if self.series_column is None else f"series {sid!r}: "
                raise UserInputError(
                    f"{label}split {split!r} is too short for window {window} + horizon "
                    f"{horizon}: {len(part)} steps (with {len(context) - len(part)} earlier "
                    "steps available as input)"
                )
            values = self.scaler.transform(context[self.feature_columns].to_numpy(np.float64), s)
            target_starts = first_target + stride * np.arange(n_windows)
            x_idx = target_starts[:, None] - window + np.arange(window)
            y_idx = target_starts[:, None] + np.arange(horizon)
            xs.append(values[x_idx])
            ys.append(values[y_idx][..., : len(self.target_columns)])
            if n_future:
                futures.append(values[y_idx][..., -n_future:])
            series.append(np.full(n_windows, s))
            starts.append(context[self.time_column].to_numpy()[target_starts])

        def as_tensor(parts: list[np.ndarray]) -> Tensor:
            return torch.from_numpy(np.concatenate(parts).astype(np.float32))

        return ForecastWindows(
            x=as_tensor(xs),
            y=as_tensor(ys),
            future=as_tensor(futures) if n_future else None,
            series=torch.from_numpy(np.concatenate(series).astype(np.int64)),
            start=np.concatenate(starts),
        )


Dataset: TypeAlias = SequenceClassificationData | ForecastData | LanguageModelData | MusicData
"""What :func:`rnnlab.data.datasets.load` returns."""


def _pick_split(data: object, name: str):  # the return type depends on the container
    if name not in ("train", "val", "test"):
        raise UserInputError(f"unknown split {name!r}; expected 'train', 'val' or 'test'")
    return getattr(data, name)
