"""Clustering sequences: KMeans/DBSCAN on embeddings and an HMM-per-cluster baseline.

The HMM baseline works on the raw sequences, not on embeddings: it fits one Gaussian HMM
per cluster and assigns each sequence to the HMM under which it is most likely, repeating
fit/assign a few times (hard-assignment EM over sequences, as in Smyth 1997 "Clustering
sequences with hidden Markov models"). It is the classic model-based answer to the same
question, so an autoencoder whose clusters are no better than it has learned little.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from rnnlab.errors import UserInputError

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
