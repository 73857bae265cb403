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


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run fastest on one thread; with other processes on the cores, torch's
    intra-op threads spin against each other and a step takes 50x longer."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
