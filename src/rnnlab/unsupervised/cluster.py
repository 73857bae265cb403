"""Clustering sequences: KMeans/DBSCAN on embeddings and an HMM-per-cluster baseline.

The HMM baseline works on the raw sequences, not on embeddings: it fits one Gaussian HMM
per cluster and assigns each sequence to the HMM under which it is most likely, repeating
fit/assign a few times (hard-assignment EM over sequences, as in Smyth 1997 "Clustering
sequences with hidden Markov models"). It is the classic model-based answer to the same
question, so an autoencoder whose clusters are no better than it has learned little.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnnlab.errors import UserInputError
from rnnlab.modelfile import atomic_directory

METHODS = ("kmeans", "dbscan")


def cluster_embeddings(
    embeddings: np.ndarray,
    method: str = "kmeans",
    *,
    n_clusters: int = 8,
    eps: float | None = None,
    min_samples: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """Cluster one embedding per sequence; returns an int label per row (-1 = DBSCAN noise).

    Embeddings are standardised first. For DBSCAN without ``eps``, ``eps`` is the 90th
    percentile of the distances to each point's ``min_samples``-th nearest neighbour (a
    point on the flat part of the k-distance curve), so about 10 % of points at most are
    marked noise on data with real clusters.
    """
    from sklearn.cluster import DBSCAN, KMeans
    from sklearn.neighbors import NearestNeighbors
    from sklearn.preprocessing import StandardScaler

    embeddings = np.asarray(embeddings, dtype=np.float64)
    if embeddings.ndim != 2 or len(embeddings) < 2:
        raise UserInputError(f"need at least 2 embeddings of shape (N, D); got {embeddings.shape}")
    z = StandardScaler().fit_transform(embeddings)
    if method == "kmeans":
        if not 1 <= n_clusters <= len(z):
            raise UserInputError(
                f"--clusters must lie in 1..{len(z)} (the number of sequences); got {n_clusters}"
            )
        return KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit_predict(z)
    if method == "dbscan":
        if eps is None:
            k = min(min_samples, len(z) - 1)
            distances, _ = NearestNeighbors(n_neighbors=k + 1).fit(z).kneighbors(z)
            eps = float(np.quantile(distances[:, -1], 0.9)) or 1e-6
        return DBSCAN(eps=eps, min_samples=min_samples).fit_predict(z)
    raise UserInputError(f"unknown clustering method {method!r}; expected one of {METHODS}")


def hmm_clusters(
    sequences: Sequence[np.ndarray],
    n_clusters: int,
    *,
    n_states: int = 3,
    rounds: int = 5,
    seed: int = 0,
    init: np.ndarray | None = None,
) -> np.ndarray:
    """Cluster variable-length sequences with one Gaussian HMM per cluster.

    Args:
        sequences: arrays ``(T_i, C)`` (standardise channels beforehand).
        n_clusters: number of HMMs.
        n_states: hidden states per HMM (diagonal covariances).
        rounds: fit/assign rounds; stops early when assignments no longer change.
        seed: random state of the HMMs and of the initial assignment.
        init: initial labels (e.g. KMeans on summary statistics); default KMeans on each
            sequence's per-channel mean and standard deviation.

    Returns:
        int labels ``(N,)`` in ``0..n_clusters-1``.
    """
    from hmmlearn.hmm import GaussianHMM
    from sklearn.cluster import KMeans

    seqs = [np.asarray(s, dtype=np.float64) for s in sequences]
    if len(seqs) < n_clusters:
        raise UserInputError(f"{len(seqs)} sequences cannot form {n_clusters} clusters")
    if init is None:
        stats = np.stack([np.concatenate([s.mean(0), s.std(0)]) for s in seqs])
        init = KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit_predict(stats)
    labels = np.asarray(init, dtype=np.int64).copy()
    for _ in range(rounds):
        scores = np.full((len(seqs), n_clusters), -np.inf)
        for k in range(n_clusters):
            members = [s for s, lab in zip(seqs, labels, strict=True) if lab == k]
            if not members:
                continue
            states = max(1, min(n_states, min(len(s) for s in members)))
            model = GaussianHMM(
                n_components=states, covariance_type="diag", n_iter=20, random_state=seed
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(np.concatenate(members), [len(s) for s in members])
                scores[:, k] = [model.score(s) for s in seqs]
        new = scores.argmax(axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


def adjusted_rand(labels_true: np.ndarray, labels_pred: np.ndarray) -> float:
    """Adjusted Rand index (scikit-learn): 1 = same partition, about 0 = chance."""
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(labels_true, labels_pred))


@dataclass
class ClusterResult:
    """Cluster assignments of an ``rnnlab embed`` output, with the HMM baseline."""

    assignments: pd.DataFrame  # sequence_id, [label], cluster, [hmm_cluster]
    method: str
    ari: dict[str, float]  # method -> adjusted Rand index vs labels (when labels exist)
    anomalies: pd.DataFrame | None  # top sequences by reconstruction error

    def render(self) -> str:
        """Cluster sizes, ARI per method (or why there is none), and the anomaly list."""
        sizes = self.assignments["cluster"].value_counts().sort_index()
        noise = int(sizes.get(-1, 0))
        lines = [
            f"{self.method}: {int((sizes.index >= 0).sum())} clusters over "
            f"{len(self.assignments)} sequences" + (f" ({noise} marked noise)" if noise else ""),
            "sizes: " + ", ".join(f"{k}: {v}" for k, v in sizes.items()),
        ]
        if self.ari:
            lines.append("adjusted Rand index vs labels (1 = same partition, 0 = chance):")
            lines += [f"  {name}: {value:.3f}" for name, value in self.ari.items()]
            if "hmm" in self.ari:
                ours, theirs = self.ari[f"autoencoder+{self.method}"], self.ari["hmm"]
                verb = "beats" if ours > theirs else "does NOT beat"
                lines.append(f"autoencoder+{self.method} {verb} the HMM baseline on ARI")
        else:
            lines.append("no labels in the data: no adjusted Rand index")
        if self.anomalies is not None:
            lines += ["", "largest reconstruction errors:", self.anomalies.to_string(index=False)]
        return "\n".join(lines)

    def save(self, out: str | os.PathLike[str]) -> Path:
        """Write ``clusters.csv``, ``summary.json`` and ``anomalies.csv`` (if asked)."""
        with atomic_directory(out) as staging:
            self.assignments.to_csv(staging / "clusters.csv", index=False)
            summary = {"method": self.method, "ari": self.ari}
            (staging / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
            if self.anomalies is not None:
                self.anomalies.to_csv(staging / "anomalies.csv", index=False)
            (staging / "report.txt").write_text(self.render() + "\n")
        return Path(out)


def cluster_embed_dir(
    embed_dir: str | os.PathLike[str],
    *,
    method: str = "kmeans",
    n_clusters: int | None = None,
    eps: float | None = None,
    min_samples: int = 5,
    hmm: bool = True,
    anomalies: int | None = None,
    seed: int = 0,
) -> ClusterResult:
    """Cluster the embeddings written by ``rnnlab embed`` (see :class:`ClusterResult`).

    ``n_clusters`` defaults to the number of distinct labels when the data have labels
    (else it is required for kmeans and the HMM baseline).
    """
    folder = Path(embed_dir)
    table_path = folder / "embeddings.csv"
    if not table_path.is_file():
        raise UserInputError(f"{folder}: no embeddings.csv; run `rnnlab embed ... --out {folder}`")
    table = pd.read_csv(table_path, dtype={"sequence_id": str, "label": str})
    columns = [c for c in table.columns if c.startswith("e") and c[1:].isdigit()]
    labels = table["label"].to_numpy() if "label" in table.columns else None
    if n_clusters is None:
        if labels is None and (method == "kmeans" or hmm):
            raise UserInputError("the data have no labels: pass --clusters N")
        n_clusters = len(set(labels)) if labels is not None else 0
    assignments = table[["sequence_id", *(["label"] if labels is not None else [])]].copy()
    assignments["cluster"] = cluster_embeddings(
        table[columns].to_numpy(),
        method,
        n_clusters=n_clusters,
        eps=eps,
        min_samples=min_samples,
        seed=seed,
    )
    ari: dict[str, float] = {}
    if labels is not None:
        ari[f"autoencoder+{method}"] = adjusted_rand(labels, assignments["cluster"])
    if hmm:
        with np.load(folder / "sequences.npz", allow_pickle=False) as arrays:
            x, lengths = arrays["x"], arrays["lengths"]
        sequences = [x[i, :n] for i, n in enumerate(lengths)]
        assignments["hmm_cluster"] = hmm_clusters(sequences, n_clusters, seed=seed)
        if labels is not None:
            ari["hmm"] = adjusted_rand(labels, assignments["hmm_cluster"])
    ranked = None
    if anomalies is not None:
        errors = pd.read_csv(folder / "reconstruction.csv", dtype={"sequence_id": str})
        ranked = errors.sort_values("reconstruction_error", ascending=False).head(anomalies)
        if labels is not None:
            ranked = ranked.merge(table[["sequence_id", "label"]], on="sequence_id", how="left")
    return ClusterResult(assignments, method, ari, ranked)
