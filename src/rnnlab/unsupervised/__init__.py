"""Unsupervised use of sequence models: autoencoder embeddings, clustering, anomalies.

:class:`Embedder` trains a :class:`rnnlab.models.SequenceAutoencoder` and returns one
embedding per sequence; :mod:`rnnlab.unsupervised.cluster` clusters them (KMeans/DBSCAN)
beside an HMM-per-cluster baseline, scored by the adjusted Rand index where labels exist.
"""

from rnnlab.unsupervised.cluster import adjusted_rand, cluster_embeddings, hmm_clusters

__all__ = ["adjusted_rand", "cluster_embeddings", "hmm_clusters"]
