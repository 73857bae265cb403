"""Assemble containers from raw sequences, fitting preprocessing on the training split only.

Shared by the built-in data sets (:mod:`rnnlab.data.datasets`) and the user's files
(:mod:`rnnlab.data.user`), so both get the same scaling, vocabularies and padding.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from rnnlab.data.containers import (
    PAD,
    UNK,
    LanguageModelData,
    SequenceClassificationData,
    SequenceSet,
    pad_sequences,
)

_WORD = re.compile(r"\w+|[^\w\s]")


def tokenize(text: str, level: str) -> list[str]:
    """Split ``text`` into tokens: characters (``level="char"``) or lower-cased words and
    punctuation marks (``level="word"``)."""
    return list(text) if level == "char" else _WORD.findall(text.lower())


def build_vocab(token_lists: Sequence[Sequence[str]], min_count: int = 1) -> list[str]:
    """Vocabulary from training tokens: ``<pad>``, ``<unk>``, then tokens seen at least
    ``min_count`` times, most frequent first (ties alphabetical)."""
    counts = Counter(token for tokens in token_lists for token in tokens)
    kept = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
    return [PAD, UNK, *kept]


def encoder(vocab: list[str]) -> Callable[[Sequence[str]], torch.Tensor]:
    """A function mapping tokens to int64 ids; tokens outside ``vocab`` map to ``<unk>``."""
    index = {token: i for i, token in enumerate(vocab)}
    unk = index[UNK]

    def encode(tokens: Sequence[str]) -> torch.Tensor:
        return torch.tensor([index.get(t, unk) for t in tokens], dtype=torch.int64)

    return encode


def classification_from_arrays(
    sequences: Sequence[np.ndarray],
    labels: np.ndarray,
    splits: tuple[np.ndarray, np.ndarray, np.ndarray],
    class_names: list[str],
    *,
    name: str,
    standardize: bool = True,
    limit: int | None = None,
    summary: str = "",
) -> SequenceClassificationData:
    """Build float sequence-classification data from per-sequence ``(T_i, I)`` arrays.

    ``labels`` are class indices; ``splits`` are index arrays into ``sequences``. With
    ``standardize``, each channel is shifted and scaled by its mean and standard deviation over
    all valid steps of the training sequences (a constant channel keeps scale 1). ``limit``
    keeps the first ``limit`` indices of each split.
    """
    splits = tuple(s[:limit] if limit is not None else s for s in splits)
    train_steps = np.concatenate([sequences[i] for i in splits[0]]).astype(np.float64)
    mean = train_steps.mean(axis=0) if standardize else 0.0
    std = train_steps.std(axis=0) if standardize else 1.0
    std = np.where(std > 0, std, 1.0)

    width = int(sequences[0].shape[1])

    def make_x(index: np.ndarray) -> list[torch.Tensor]:
        return [torch.from_numpy(((sequences[i] - mean) / std).astype(np.float32)) for i in index]

    return _classification_data(
        make_x,
        (width,),
        torch.float32,
        labels,
        splits,
        class_names,
        input_size=width,
        name=name,
        summary=summary,
    )


def text_classification(
    texts: Sequence[str],
    labels: np.ndarray,
    splits: tuple[np.ndarray, np.ndarray, np.ndarray],
    class_names: list[str],
    *,
    name: str,
    level: str = "word",
    min_count: int = 2,
    limit: int | None = None,
    summary: str = "",
) -> SequenceClassificationData:
    """Build token-id classification data; the vocabulary comes from the training texts.

    A text with no tokens becomes the single token ``<unk>`` (kept, never dropped).
    """
    splits = tuple(s[:limit] if limit is not None else s for s in splits)
    tokens = {int(i): tokenize(texts[i], level) or [UNK] for s in splits for i in s}
    vocab = build_vocab([tokens[int(i)] for i in splits[0]], min_count=min_count)
    encode = encoder(vocab)

    def make_x(index: np.ndarray) -> list[torch.Tensor]:
        return [encode(tokens[int(i)]) for i in index]

    return _classification_data(
        make_x,
        (),
        torch.int64,
        labels,
        splits,
        class_names,
        input_size=len(vocab),
        vocab=vocab,
        name=name,
        summary=summary,
    )


def _classification_data(
    make_x: Callable[[np.ndarray], list[torch.Tensor]],
    step_shape: tuple[int, ...],
    dtype: torch.dtype,
    labels: np.ndarray,
    splits: tuple[np.ndarray, ...],
    class_names: list[str],
    **fields: Any,
) -> SequenceClassificationData:
    """Pad ``make_x(index)`` (steps of ``step_shape``) of each split into a ``dtype``
    :class:`SequenceSet` with its labels and source indices (an empty split too); ``fields``
    are the container's other fields."""

    def make_set(index: np.ndarray) -> SequenceSet:
        x, lengths = pad_sequences(make_x(index), empty_shape=step_shape)
        y = torch.as_tensor(labels[index], dtype=torch.int64)
        return SequenceSet(x.to(dtype), lengths, y, torch.as_tensor(index, dtype=torch.int64))

    train, val, test = (make_set(s) for s in splits)
    return SequenceClassificationData(
        train, val, test, num_classes=len(class_names), class_names=list(class_names), **fields
    )


def language_model(
    train: str, val: str, test: str, *, name: str, level: str = "char", summary: str = ""
) -> LanguageModelData:
    """Language-model streams with a vocabulary from the training text (every training token
    kept; unseen ones map to ``<unk>``)."""
    tokens = [tokenize(text, level) for text in (train, val, test)]
    vocab = build_vocab([tokens[0]])
    streams = [encoder(vocab)(t) for t in tokens]
    return LanguageModelData(*streams, vocab=vocab, name=name, summary=summary)
