"""Parameter counting and parameter-budget matching (Chung et al. 2014 compare GRU, LSTM and
tanh-RNN models of about the same number of parameters: the cheaper cell gets more units)."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from rnnlab.errors import UserInputError

BUDGET_TOLERANCE = 0.03
"""A matched model's parameter count lies within 3 % of the budget."""


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters of ``model`` (all, or only those with requires_grad)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def match_hidden_size(
    build_fn: Callable[[int], nn.Module],
    budget: int,
    *,
    tolerance: float = BUDGET_TOLERANCE,
    max_hidden_size: int = 1 << 16,
) -> tuple[int, int]:
    """The hidden size whose model has a parameter count closest to ``budget``.

    ``build_fn(hidden_size)`` builds the model; its parameter count must grow with the hidden
    size (true of every rnnlab model). A binary search finds the two hidden sizes around the
    budget and keeps the closer one.

    Returns:
        ``(hidden_size, parameter_count)`` with ``|count - budget| <= tolerance * budget``.

    Raises:
        UserInputError (a ValueError) when no hidden size lands within the tolerance, naming
        the smallest achievable count (hidden size 1) or the two nearest counts.
    """
    if budget < 1:
        raise UserInputError(f"parameter budget must be a positive integer, got {budget}")
    cache: dict[int, int] = {}

    def count(hidden_size: int) -> int:
        if hidden_size not in cache:
            cache[hidden_size] = count_parameters(build_fn(hidden_size))
        return cache[hidden_size]

    smallest = count(1)
    if smallest > budget * (1 + tolerance):
        raise UserInputError(
            f"parameter budget {budget:,} is too small for this model: the smallest achievable "
            f"count is {smallest:,} (hidden size 1); use a budget of at least {smallest:,}"
        )
    low, high = 1, 2
    while count(high) < budget:  # grow until the budget is bracketed
        if high >= max_hidden_size:
            raise UserInputError(
                f"parameter budget {budget:,} needs a hidden size above {max_hidden_size}"
            )
        low, high = high, min(2 * high, max_hidden_size)
    while high - low > 1:  # invariant: count(low) < budget <= count(high), or low == 1
        middle = (low + high) // 2
        if count(middle) < budget:
            low = middle
        else:
            high = middle
    best = min((low, high), key=lambda h: (abs(count(h) - budget), h))
    if abs(count(best) - budget) > tolerance * budget:
        raise UserInputError(
            f"no hidden size gives a parameter count within {tolerance:.0%} of {budget:,}: "
            f"hidden size {low} has {count(low):,}, hidden size {high} has {count(high):,}"
        )
    return best, count(best)
