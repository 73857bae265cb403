"""The trainer flushes denormal floats to zero on the CPU while it trains, and only then."""

from __future__ import annotations

import torch
from train_toy import make_model, toy_config, train_batches, val_batches

from rnnlab.train import Trainer
from rnnlab.train.denormals import denormals_flushed, flush_denormals

CPU = torch.device("cpu")


def test_flush_denormals_sets_and_restores_the_mode():
    assert not denormals_flushed()  # torch's default: IEEE denormals
    with flush_denormals(CPU):
        assert denormals_flushed()
        assert (torch.tensor([3e-39]) * 2.0).item() == 0.0
    assert not denormals_flushed() and (torch.tensor([3e-39]) * 2.0).item() > 0
    torch.set_flush_denormal(True)  # a caller's own setting survives
    try:
        with flush_denormals(CPU):
            assert denormals_flushed()
        assert denormals_flushed()
    finally:
        torch.set_flush_denormal(False)
    with flush_denormals(torch.device("meta")):  # nothing to do off the CPU
        assert not denormals_flushed()


def test_training_steps_run_with_denormals_flushed():
    seen = []
    trainer = Trainer(make_model(), toy_config(epochs=1), on_step=lambda info: seen.append(
        denormals_flushed()
    ))  # fmt: skip
    trainer.fit(train_batches, val_batches)
    assert seen and all(seen)
    assert not denormals_flushed()
