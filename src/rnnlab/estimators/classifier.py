"""``rnnlab.Classifier``: a recurrent classifier of variable-length multivariate sequences.

>>> clf = Classifier(model="gru", sequence_id="sid", time="t", label="label").fit("data.csv")
>>> clf.predict("new.csv")                # one label per sequence, in sorted id order
>>> clf.save("model/")

The data are read by :func:`rnnlab.data.user.load_classification_csv` (seeded stratified
train/validation/test split, variable lengths kept); features are standardised per channel
with statistics of the training sequences only. A logistic regression on per-channel summary
statistics (:class:`rnnlab.baselines.SummaryLogisticRegression`) is fitted on the same
training split and stored beside the network, so every evaluation shows both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from rnnlab.baselines import SummaryLogisticRegression
from rnnlab.data.containers import SequenceClassificationData, SequenceSet, pad_sequences
from rnnlab.data.user import Source, read_sequence_rows
from rnnlab.errors import UserInputError
from rnnlab.estimators.base import Estimator


def sequence_digest(sequence_id: str, steps: np.ndarray) -> str:
    """Short digest of one sequence (id and values): lets evaluate recognise training
    sequences in any file, re-sorted or re-saved. Values are hashed as float32 because a CSV
    round trip may change the last bit of a float64."""
    digest = hashlib.sha256(sequence_id.encode())
    digest.update(np.ascontiguousarray(steps, dtype=np.float32).tobytes())
    return digest.hexdigest()[:16]


class Classifier(Estimator):
    """Many-to-one recurrent classifier for long-format tables (one row per step).

    Args:
        model: encoder name (``lstm``, ``gru``, ``bilstm``, ``tcn``, any rnnlab cell).
        hidden_size, num_layers, pooling: network (pooling ``"last"`` or ``"mean"``).
        epochs, lr, batch_size, patience, seed, device, progress: training settings (early
            stopping on the validation loss).
        sequence_id, time, label, features, fill: how to read the table (see
            :func:`rnnlab.data.user.load_classification_csv`); ``features`` None uses every
            other column.
    """

    kind = "classify"

    def __init__(
        self,
        model: str = "gru",
        *,
        hidden_size: int = 64,
        num_layers: int = 1,
        pooling: str = "last",
        epochs: int = 30,
        lr: float = 1e-3,
        batch_size: int = 64,
        patience: int = 5,
        seed: int = 0,
        device: str = "auto",
        progress: bool = False,
        sequence_id: str = "sequence_id",
        time: str | None = None,
        label: str = "label",
        features: Sequence[str] | None = None,
        fill: str | None = None,
    ) -> None:
        self.model = model
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.pooling = pooling
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

    # -- data ------------------------------------------------------------------------------

    def _read(self, source: Source) -> tuple[SequenceClassificationData, list[str]]:
        from rnnlab.data import user

        data = user.load_classification_csv(
            source,
            sequence_column=self.sequence_id,
            time_column=self.time,
            label_column=self.label,
            features=None if self.features is None else list(self.features),
            fill=self.fill,
            standardize=False,
        )
        columns = user.table_columns(source)
        # The loader's default order column, so prediction orders steps the same way.
        self.time_column_ = self.time or next(
            (c for c in user.ORDER_CANDIDATES if c in columns), None
        )
        if self.features is not None:
            return data, list(self.features)
        reserved = {self.sequence_id, self.label, self.time_column_}
        return data, [c for c in columns if c not in reserved]

    def _scaled(self, sequences: Sequence[np.ndarray], labels: np.ndarray) -> SequenceSet:
        """Standardise with the training statistics and pad."""
        tensors = [
            torch.from_numpy(((s - self.mean_) / self.scale_).astype(np.float32)) for s in sequences
        ]
        x, lengths = pad_sequences(tensors)
        return SequenceSet(x, lengths, torch.as_tensor(labels, dtype=torch.int64))

    def _rows(self, data: Source, *, labelled: bool):
        rows = read_sequence_rows(
            data,
            sequence_column=self.sequence_id,
            time_column=self.time_column_,
            features=self.features_,
            label_column=self.label if labelled else None,
            fill=self.fill,
        )
        return rows

    # -- fit -------------------------------------------------------------------------------

    def fit(self, data: Source) -> Classifier:
        """Read, split, standardise on train, train the network and the baseline.

        Returns:
            ``self`` with ``network_``, ``classes_``, ``features_``, ``time_column_``,
            ``mean_``, ``scale_``, ``baseline_``, ``test_ids_``, ``trained_digests_``, ``metrics_``.
        """
        from rnnlab.models import ClassifierNet
        from rnnlab.train import seed_everything

        if self.pooling not in ("last", "mean"):
            raise UserInputError(f"pooling must be 'last' or 'mean'; got {self.pooling!r}")
        loaded, self.features_ = self._read(data)
        self.classes_ = list(loaded.class_names)
        splits = {name: _unpadded(loaded.split(name)) for name in ("train", "val", "test")}
        steps = np.concatenate(splits["train"][0])
        self.mean_ = steps.mean(axis=0)
        self.scale_ = np.where(steps.std(axis=0) > 0, steps.std(axis=0), 1.0)
        sets = {name: self._scaled(*splits[name]) for name in splits}
        rows = self._rows(data, labelled=False)
        self.test_ids_ = [rows.ids[int(i)] for i in loaded.test.indices]
        seen = [int(i) for part in (loaded.train, loaded.val) for i in part.indices]
        self.trained_digests_ = sorted(
            sequence_digest(rows.ids[i], rows.sequences[i]) for i in seen
        )
        seed_everything(self.seed)
        network = ClassifierNet(
            encoder=self.model,
            input_size=len(self.features_),
            num_classes=len(self.classes_),
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            pooling=self.pooling,
        )
        val = sets["val"] if len(sets["val"]) else None
        training = self._train(
            network,
            lambda gen: sets["train"].batches(self.batch_size, gen),
            None if val is None else (lambda: val.batches(1024)),
        )
        self.network_ = network
        train = sets["train"]
        self.baseline_ = SummaryLogisticRegression().fit(
            train.x.numpy(), train.lengths.numpy(), train.y.numpy()
        )
        self.metrics_ = {"training": training, "summary": loaded.summary}
        if len(sets["test"]):
            self.metrics_["test"] = self._scores(sets["test"])
        return self

    def _scores(self, sequences: SequenceSet) -> dict[str, dict[str, float]]:
        from sklearn.metrics import accuracy_score, f1_score

        truth = sequences.y.numpy()
        labels = list(range(len(self.classes_)))
        predictions = {
            self.model: self._predict_indices(sequences),
            "logistic-regression": self.baseline_.predict(
                sequences.x.numpy(), sequences.lengths.numpy()
            ),
        }
        return {
            name: {
                "accuracy": float(accuracy_score(truth, pred)),
                "macro_f1": float(f1_score(truth, pred, average="macro", labels=labels)),
            }
            for name, pred in predictions.items()
        }

    # -- predict ---------------------------------------------------------------------------

    def _probabilities(self, sequences: SequenceSet) -> np.ndarray:
        order = torch.argsort(sequences.lengths, descending=True)
        out = torch.empty(len(sequences), len(self.classes_))
        for start in range(0, len(sequences), 512):
            index = order[start : start + 512]
            part = sequences.subset(index)
            out[index] = self.network_.predict(part.x, part.lengths)
        return out.numpy()

    def _predict_indices(self, sequences: SequenceSet) -> np.ndarray:
        return self._probabilities(sequences).argmax(axis=1)

    def _unlabelled(self, data: Source) -> tuple[list[str], SequenceSet]:
        self._check_fitted()
        rows = self._rows(data, labelled=False)
        return rows.ids, self._scaled(rows.sequences, np.zeros(len(rows.ids), dtype=np.int64))

    def _labelled(self, data: Source) -> SequenceSet:
        """Labelled sequences of ``data`` for scoring; the held-out test sequences only when
        ``data`` is the very file the model was trained on."""
        rows = self._rows(data, labelled=True)
        index = {name: i for i, name in enumerate(self.classes_)}
        unknown = sorted({lab for lab in rows.labels if lab not in index})
        if unknown:
            raise UserInputError(
                f"labels {unknown} were not seen in training (classes: {self.classes_})"
            )
        seen = set(self.trained_digests_)
        keep = [
            i
            for i, (sid, steps) in enumerate(zip(rows.ids, rows.sequences, strict=True))
            if sequence_digest(sid, steps) not in seen
        ]
        if not keep:
            raise UserInputError(
                f"all {len(rows.ids)} sequences of the data were used in training or validation; "
                "evaluate needs held-out sequences"
            )
        left_out = len(rows.ids) - len(keep)
        self.scored_on_ = f"{len(keep)} of {len(rows.ids)} sequences" + (
            f" ({left_out} used in training or validation left out)" if left_out else ""
        )
        labels = np.array([index[rows.labels[i]] for i in keep], dtype=np.int64)
        return self._scaled([rows.sequences[i] for i in keep], labels)

    def predict_proba(self, data: Source) -> np.ndarray:
        """Class probabilities (N, n_classes), rows in sorted sequence-id order."""
        return self._probabilities(self._unlabelled(data)[1])

    def predict(self, data: Source) -> np.ndarray:
        """Predicted label (original class name) per sequence, in sorted sequence-id order."""
        return np.asarray(self.classes_, dtype=object)[self.predict_proba(data).argmax(axis=1)]

    def predict_table(self, data: Source) -> pd.DataFrame:
        """One row per sequence: id, predicted label and one probability column per class."""
        ids, sequences = self._unlabelled(data)
        proba = self._probabilities(sequences)
        table = pd.DataFrame(
            {
                self.sequence_id: ids,
                "predicted": np.asarray(self.classes_, dtype=object)[proba.argmax(axis=1)],
            }
        )
        for k, name in enumerate(self.classes_):
            table[f"p_{name}"] = proba[:, k]
        return table

    # -- state -----------------------------------------------------------------------------

    def summary_line(self) -> str:
        """One line describing the fitted model, for logs."""
        test = self.metrics_.get("test", {}).get(self.model, {})
        score = f", test accuracy {test['accuracy']:.3f}" if test else ""
        return (
            f"{self.model} classifier, {len(self.classes_)} classes, "
            f"{len(self.features_)} features, {self.metrics_['training']['epochs']} epochs{score}"
        )

    def _state(self) -> dict[str, Any]:
        return {
            "classes": self.classes_,
            "features": self.features_,
            "time_column": self.time_column_,
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
            "test_ids": self.test_ids_,
            "trained_digests": self.trained_digests_,
            "baseline": self.baseline_.to_dict(),
        }

    def _restore(self, state: dict[str, Any]) -> None:
        self.classes_ = list(state["classes"])
        self.features_ = list(state["features"])
        self.time_column_ = state["time_column"]
        self.mean_ = np.asarray(state["mean"], dtype=np.float64)
        self.scale_ = np.asarray(state["scale"], dtype=np.float64)
        self.test_ids_ = list(state["test_ids"])
        self.trained_digests_ = list(state.get("trained_digests", []))
        self.baseline_ = SummaryLogisticRegression.from_dict(state["baseline"])


def _unpadded(sequences: SequenceSet) -> tuple[list[np.ndarray], np.ndarray]:
    x = sequences.x.numpy().astype(np.float64)
    return [x[i, :n] for i, n in enumerate(sequences.lengths.tolist())], sequences.y.numpy()
