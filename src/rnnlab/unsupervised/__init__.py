"""Unsupervised use of sequence models: autoencoder embeddings, clustering, anomalies.

:class:`Embedder` trains a :class:`rnnlab.models.SequenceAutoencoder` and returns one
embedding per sequence; :mod:`rnnlab.unsupervised.cluster` clusters them (KMeans/DBSCAN)
beside an HMM-per-cluster baseline, scored by the adjusted Rand index where labels exist.
"""

from rnnlab.unsupervised.cluster import (
    ClusterResult,
    adjusted_rand,
    cluster_embed_dir,
    cluster_embeddings,
    hmm_clusters,
)
from rnnlab.unsupervised.embed import Embedder, write_embeddings

__all__ = [
    "ClusterResult",
    "Embedder",
    "adjusted_rand",
    "cluster_embed_dir",
    "cluster_embeddings",
    "hmm_clusters",
    "write_embeddings",
]
