"""``Embedder``: a sequence autoencoder as an estimator; one embedding per sequence.

Labels, when the data have them, are never used for training: they are carried to the
outputs only so clustering can be scored against them (adjusted Rand index).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from rnnlab.data.containers import SequenceClassificationData, SequenceSet, pad_sequences
from rnnlab.data.user import Source, read_sequence_rows
from rnnlab.errors import UserInputError
from rnnlab.estimators.base import Estimator
from rnnlab.modelfile import atomic_directory


@dataclass
class Sequences:
    """Unscaled variable-length sequences with ids and (optional) labels."""

    ids: list[str]
    arrays: list[np.ndarray]
    labels: list[str] | None


class Embedder(Estimator):
    """Train a :class:`rnnlab.models.SequenceAutoencoder` and embed sequences with it.

    Args:
        model: encoder name (``lstm`` or ``gru`` typically; the decoder uses the same cell).
        hidden_size, num_layers, embedding_size: autoencoder size.
        epochs, lr, batch_size, patience, seed, device, progress: training settings; 10 % of
            the sequences (seeded) are held out for early stopping on reconstruction error.
        sequence_id, time, label, features, fill: how to read a long-format table; the label
            column is read but never used in training.
    """

    kind = "embed"

    def __init__(
        self,
        model: str = "gru",
        *,
        hidden_size: int = 64,
        num_layers: int = 1,
        embedding_size: int = 16,
        epochs: int = 30,
        lr: float = 1e-3,
        batch_size: int = 64,
        patience: int = 5,
        seed: int = 0,
        device: str = "auto",
        progress: bool = False,
        sequence_id: str = "sequence_id",
        time: str | None = None,
        label: str | None = None,
        features: Sequence[str] | None = None,
        fill: str | None = None,
    ) -> None:
        self.model = model
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.embedding_size = embedding_size
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.patience = patience
        self.seed = seed
        self.device = device
        self.progress = progress
        self.sequence_id = sequence_id
        self.time = time
        self.label = label
        self.features = features
        self.fill = fill

    def read(self, data: Source | SequenceClassificationData) -> Sequences:
        """Sequences of ``data``: a long table, or a data container (all splits, in order)."""
        if isinstance(data, SequenceClassificationData):
            if data.vocab is not None:
                raise UserInputError("the autoencoder embeds float sequences, not token ids")
            ids, arrays, labels = [], [], []
            for split in ("train", "val", "test"):
                part = data.split(split)
                for i, n in enumerate(part.lengths.tolist()):
                    ids.append(f"{split}-{i}")
                    arrays.append(part.x[i, :n].numpy().astype(np.float64))
                    labels.append(data.class_names[int(part.y[i])])
            return Sequences(ids, arrays, labels)
        features = getattr(self, "features_", None) or self.features
        rows = read_sequence_rows(
            data,
            sequence_column=self.sequence_id,
            time_column=self.time,
            features=features,
            label_column=self.label,
            fill=self.fill,
        )
        return Sequences(rows.ids, rows.sequences, rows.labels)

    def _scaled(self, arrays: Sequence[np.ndarray]) -> SequenceSet:
        if arrays and arrays[0].shape[1] != len(self.mean_):
            raise UserInputError(
                f"sequences have {arrays[0].shape[1]} features; the model was trained on "
                f"{len(self.mean_)}"
            )
        tensors = [
            torch.from_numpy(((a - self.mean_) / self.scale_).astype(np.float32)) for a in arrays
        ]
        x, lengths = pad_sequences(tensors)
        return SequenceSet(x, lengths, torch.zeros(len(arrays), dtype=torch.int64))

    def fit(self, data: Source | SequenceClassificationData) -> Embedder:
        """Train the autoencoder on every sequence of ``data`` (labels ignored).

        Returns:
            ``self`` with ``network_``, ``features_``, ``mean_``, ``scale_``, ``metrics_``.
        """
        from rnnlab.models import SequenceAutoencoder
        from rnnlab.train import seed_everything

        sequences = self.read(data)
        if len(sequences.arrays) < 2:
            raise UserInputError("need at least two sequences to train an autoencoder")
        self.features_ = (
            None if isinstance(data, SequenceClassificationData) else self._feature_names(data)
        )
        order = np.random.default_rng(self.seed).permutation(len(sequences.arrays))
        n_val = len(order) // 10
        train_idx, val_idx = order[n_val:], order[:n_val]
        steps = np.concatenate([sequences.arrays[i] for i in train_idx])
        self.mean_ = steps.mean(axis=0)
        self.scale_ = np.where(steps.std(axis=0) > 0, steps.std(axis=0), 1.0)
        train = self._scaled([sequences.arrays[i] for i in train_idx])
        val = self._scaled([sequences.arrays[i] for i in val_idx]) if n_val else None
        seed_everything(self.seed)
        network = SequenceAutoencoder(
            encoder=self.model,
            input_size=int(steps.shape[1]),
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            embedding_size=self.embedding_size,
        )
        training = self._train(
            network,
            lambda gen: train.batches(self.batch_size, gen),
            None if val is None else (lambda: val.batches(1024)),
        )
        self.network_ = network
        self.metrics_ = {"training": training, "sequences": len(sequences.arrays)}
        return self

    def _feature_names(self, data: Source) -> list[str]:
        rows = read_sequence_rows(
            data,
            sequence_column=self.sequence_id,
            time_column=self.time,
            features=self.features,
            label_column=self.label,
            fill=self.fill,
        )
        return rows.features

    def transform(self, arrays: Sequence[np.ndarray]) -> np.ndarray:
        """Embeddings (N, embedding_size) of unscaled sequences."""
        self._check_fitted()
        sequences = self._scaled(arrays)
        return self.network_.embed(sequences.x, sequences.lengths).numpy()

    def reconstruction_errors(self, arrays: Sequence[np.ndarray]) -> np.ndarray:
        """Mean squared reconstruction error per sequence (on scaled values, valid steps)."""
        self._check_fitted()
        sequences = self._scaled(arrays)
        errors = []
        for start in range(0, len(sequences), 256):
            part = sequences.subset(range(start, min(start + 256, len(sequences))))
            recon = self.network_.predict(part.x, part.lengths)
            mask = torch.arange(part.x.shape[1])[None, :] < part.lengths[:, None]
            squared = (recon - part.x).pow(2).mean(-1) * mask
            errors.append((squared.sum(1) / part.lengths).numpy())
        return np.concatenate(errors)

    def summary_line(self) -> str:
        """One line describing the fitted model."""
        return (
            f"{self.model} autoencoder, embedding size {self.embedding_size}, "
            f"{self.metrics_['sequences']} sequences, {self.metrics_['training']['epochs']} epochs"
        )

    def _state(self) -> dict[str, Any]:
        return {
            "features": self.features_,
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
        }

    def _restore(self, state: dict[str, Any]) -> None:
        self.features_ = state["features"]
        self.mean_ = np.asarray(state["mean"], dtype=np.float64)
        self.scale_ = np.asarray(state["scale"], dtype=np.float64)


def write_embeddings(
    embedder: Embedder, data: Source | SequenceClassificationData, out: str | os.PathLike[str]
) -> Path:
    """Write ``out/``: ``model/`` (the autoencoder), ``embeddings.csv`` (id, label if any,
    ``e0..``), ``reconstruction.csv`` (id, error) and ``sequences.npz`` (the scaled padded
    sequences, for the HMM baseline of ``rnnlab cluster``); atomically."""
    sequences = embedder.read(data)
    embeddings = embedder.transform(sequences.arrays)
    errors = embedder.reconstruction_errors(sequences.arrays)
    table = pd.DataFrame({"sequence_id": sequences.ids})
    if sequences.labels is not None:
        table["label"] = sequences.labels
    for k in range(embeddings.shape[1]):
        table[f"e{k}"] = embeddings[:, k]
    scaled = embedder._scaled(sequences.arrays)
    with atomic_directory(out) as staging:
        embedder.save(staging / "model")
        table.to_csv(staging / "embeddings.csv", index=False)
        pd.DataFrame({"sequence_id": sequences.ids, "reconstruction_error": errors}).to_csv(
            staging / "reconstruction.csv", index=False
        )
        np.savez(staging / "sequences.npz", x=scaled.x.numpy(), lengths=scaled.lengths.numpy())
    return Path(out)
