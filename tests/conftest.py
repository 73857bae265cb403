"""Fixtures shared by the whole suite."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Run each test on one torch thread, then restore the setting.

    The tests use tiny tensors, which run fastest on one thread; with other processes on the
    cores (CI has two), torch's intra-op threads spin against each other and a step takes
    50x longer.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
