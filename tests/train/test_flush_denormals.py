"""Training flushes subnormal floats to zero (they slow x86 CPUs down up to a hundredfold)
and gives back the default afterwards."""

import torch
from train_toy import make_model, toy_config, train_batches

from rnnlab.train import Trainer

SUBNORMAL = 1e-40  # below float32's smallest normal number, 1.2e-38


def _subnormal_survives() -> bool:
    return (torch.tensor([SUBNORMAL]) * 1.0).item() != 0.0


def test_subnormals_are_flushed_while_training_and_kept_after():
    assert _subnormal_survives()
    during = []
    trainer = Trainer(
        make_model(),
        toy_config(epochs=1, steps_per_epoch=2, device="cpu"),
        on_step=lambda info: during.append(_subnormal_survives()),
    )
    trainer.fit(train_batches)
    assert during == [False, False]
    assert _subnormal_survives()
