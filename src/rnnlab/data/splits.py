"""Reproducible splits: seeded stratified index splits and chronological cuts.

Index splits use numpy's PCG64 ``default_rng`` (its stream is stable across numpy versions),
so a split is a pure function of (labels, fractions, seed) and is stored as indices in
:attr:`rnnlab.data.containers.SequenceSet.indices`.
"""

from __future__ import annotations

import numpy as np

SPLIT_SEED = 20180301
"""Seed of every built-in data set's split (fixed: the splits are part of the data set)."""


def stratified_split(
    labels: np.ndarray,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = SPLIT_SEED,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split ``range(len(labels))`` into train/val/test index arrays, class by class.

    Each class contributes ``round(n_c * fraction)`` members to val and test (at least one
    each for a non-zero fraction when the class has three or more members) and the rest to
    train. Each returned array is shuffled with the same seed, so its first k entries are a
    random subset.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[], [], []]
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n = len(members)
        n_val = round(n * fractions[1])
        n_test = round(n * fractions[2])
        if n >= 3:  # a non-zero fraction gets at least one member
            n_val = max(n_val, int(fractions[1] > 0))
            n_test = max(n_test, int(fractions[2] > 0))
        cut = n - n_val - n_test
        parts[0].append(members[:cut])
        parts[1].append(members[cut : cut + n_val])
        parts[2].append(members[cut + n_val :])
    train, val, test = (rng.permutation(np.concatenate(p)).astype(np.int64) for p in parts)
    return train, val, test


def chronological_cut(
    n: int, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
) -> tuple[int, int]:
    """End positions ``(train_end, val_end)`` of a chronological train/val/test split of n steps."""
    n_test = round(n * fractions[2])
    n_val = round(n * fractions[1])
    return n - n_val - n_test, n - n_test
