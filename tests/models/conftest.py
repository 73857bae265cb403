"""Shared helpers of the task-model tests."""

from collections.abc import Callable

import pytest
import torch

from rnnlab.data import Batch


def _overfit(model: torch.nn.Module, batch: Batch, steps: int = 40, lr: float = 0.02) -> list:
    """Train on one batch; returns the loss before every step."""
    torch.manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = model.loss(batch)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.fixture
def overfit() -> Callable[..., list[float]]:
    return _overfit
