"""Memory horizon: the longest sequence length a model learns to solve within a step budget.

"Solved" is a threshold on the validation metric (recall accuracy ≥ 0.99 on copy memory,
MSE ≤ 0.01 on adding); the search is a bisection over an increasing list of candidate
lengths, assuming that a model which fails at length T also fails at every longer length.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence


def most_trainings(count: int) -> int:
    """The most calls :func:`bisect_horizon` makes on ``count`` lengths: ceil(log2(count + 1))
    (each call halves the ``count + 1`` possible answers)."""
    return math.ceil(math.log2(count + 1))


def bisect_horizon(solves: Callable[[int], bool], lengths: Sequence[int]) -> int:
    """The largest of ``lengths`` for which ``solves(length)`` holds, by bisection; 0 if none.

    ``lengths`` must be strictly increasing. ``solves`` is called about log2(len(lengths)) + 1
    times (each call typically trains a model), never twice for the same length.
    """
    lengths = list(lengths)
    if not lengths:
        raise ValueError("lengths must not be empty")
    if any(b <= a for a, b in itertools.pairwise(lengths)):
        raise ValueError(f"lengths must be strictly increasing, got {lengths}")
    low, high = -1, len(lengths)  # lengths[low] solved (or none), lengths[high] failed (or none)
    while high - low > 1:
        middle = (low + high) // 2
        if solves(lengths[middle]):
            low = middle
        else:
            high = middle
    return lengths[low] if low >= 0 else 0
