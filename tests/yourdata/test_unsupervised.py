"""Clustering on sequences whose groups are known by construction."""

import numpy as np
import pytest

from rnnlab.errors import UserInputError
from rnnlab.unsupervised.cluster import adjusted_rand, cluster_embeddings, hmm_clusters


def _two_regimes(n_per=10, seed=0):
    """Group 0 alternates between two levels, group 1 drifts slowly: same mean and spread."""
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for k in range(2):
        for _ in range(n_per):
            t = int(rng.integers(20, 30))
            if k == 0:
                x = np.where(np.arange(t) % 2 == 0, 1.0, -1.0) + 0.1 * rng.normal(size=t)
            else:
                x = np.cumsum(0.3 * rng.normal(size=t))
                x = (x - x.mean()) / (x.std() + 1e-9)
            seqs.append(x[:, None])
            labels.append(k)
    return seqs, np.array(labels)


def test_kmeans_and_dbscan_recover_separated_blobs():
    rng = np.random.default_rng(0)
    truth = np.repeat([0, 1, 2], 20)
    emb = rng.normal(scale=0.2, size=(60, 4)) + truth[:, None] * 5.0
    assert adjusted_rand(truth, cluster_embeddings(emb, "kmeans", n_clusters=3)) == 1.0
    assert adjusted_rand(truth, cluster_embeddings(emb, "dbscan", min_samples=4)) == 1.0


def test_cluster_errors():
    with pytest.raises(UserInputError, match="unknown clustering method"):
        cluster_embeddings(np.zeros((5, 2)), "spectral")
    with pytest.raises(UserInputError, match=r"--clusters must lie in 1\.\.5"):
        cluster_embeddings(np.zeros((5, 2)), "kmeans", n_clusters=9)


def test_hmm_clusters_separate_dynamics_that_summary_stats_cannot():
    seqs, truth = _two_regimes()
    labels = hmm_clusters(seqs, 2, n_states=2, seed=0)
    assert adjusted_rand(truth, labels) > 0.8
