"""Configuration checks, seeding, RNG state round trips and moving batches to a device."""

from __future__ import annotations

import random
from collections import namedtuple
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from rnnlab.errors import UserInputError
from rnnlab.train import TrainConfig, resolve_device, seed_everything, to_device
from rnnlab.train.device import batch_weight
from rnnlab.train.seeding import capture_rng_state, data_generator, restore_rng_state


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("epochs", 0, "epochs must be an integer >= 1"),
        ("lr", -1.0, "lr must be a finite number > 0"),
        ("lr", float("nan"), "lr must be a finite number > 0"),
        ("optimizer", "adagrad", "optimizer must be one of adam, adamw, rmsprop, sgd"),
        ("schedule", "step", "schedule must be one of none, cosine, plateau"),
        ("mode", "up", "mode must be one of min, max"),
        ("clip_norm", 0.0, "clip_norm must be a finite number > 0 or None"),
        ("patience", 0, "patience must be an integer >= 1 or None"),
        ("steps_per_epoch", 2.5, "steps_per_epoch must be an integer >= 1 or None"),
        ("plateau_factor", 1.0, "plateau_factor must be in"),
        ("weight_decay", -0.1, "weight_decay must be a finite number >= 0"),
    ],
)
def test_bad_configuration_names_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(UserInputError, match=message):
        TrainConfig(**{field: value})  # type: ignore[arg-type]


def test_defaults_clip_at_one_and_disable_early_stopping() -> None:
    config = TrainConfig()
    assert config.clip_norm == 1.0 and config.patience is None and config.optimizer == "adam"
    assert "device" not in config.trajectory_fields() and "lr" in config.trajectory_fields()


def test_resolve_device() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(UserInputError, match="device must be"):
        resolve_device("quantum")
    if not torch.cuda.is_available():
        with pytest.raises(UserInputError, match="CUDA is not available"):
            resolve_device("cuda")


def test_seed_everything_repeats_every_generator() -> None:
    def draw() -> tuple[float, float, torch.Tensor]:
        return random.random(), float(np.random.rand()), torch.rand(3)

    seed_everything(11)
    first = draw()
    seed_everything(11)
    second = draw()
    assert first[:2] == second[:2] and torch.equal(first[2], second[2])


def test_rng_state_round_trip_through_weights_only_file(tmp_path: object) -> None:
    generator = data_generator(5)
    seed_everything(1)
    np.random.randn()  # leaves a cached Gaussian in NumPy's state
    state = capture_rng_state(generator, cuda=False)
    path = f"{tmp_path}/rng.pt"
    torch.save(state, path)
    expected = (
        random.random(),
        np.random.randn(),
        torch.rand(2),
        torch.rand(2, generator=generator),
    )
    seed_everything(2)
    restore_rng_state(torch.load(path, weights_only=True), generator)
    again = (random.random(), np.random.randn(), torch.rand(2), torch.rand(2, generator=generator))
    assert expected[:2] == again[:2]
    assert torch.equal(expected[2], again[2]) and torch.equal(expected[3], again[3])


def test_data_generator_differs_from_the_global_stream() -> None:
    seed_everything(3)
    assert not torch.equal(torch.rand(4), torch.rand(4, generator=data_generator(3)))
    assert torch.equal(
        torch.rand(4, generator=data_generator(3)), torch.rand(4, generator=data_generator(3))
    )


@dataclass
class Pair:
    x: torch.Tensor
    meta: dict[str, object]


Named = namedtuple("Named", ["a", "b"])


def test_to_device_walks_nested_containers() -> None:
    tensor = torch.ones(2, 3, 1)
    packed = pack_padded_sequence(tensor, torch.tensor([3, 2]), batch_first=True)
    batch = Pair(
        x=tensor, meta={"pair": (tensor, [tensor]), "named": Named(tensor, 7), "p": packed}
    )
    moved = to_device(batch, torch.device("meta"))
    assert isinstance(moved, Pair) and moved.x.device.type == "meta"
    assert moved.meta["pair"][0].is_meta and moved.meta["pair"][1][0].is_meta
    assert isinstance(moved.meta["named"], Named) and moved.meta["named"].b == 7
    assert moved.meta["p"].data.is_meta
    assert batch.x.device.type == "cpu"  # the original is untouched


def test_batch_weight_is_the_batch_size_for_batches_and_one_for_containers() -> None:
    assert batch_weight(Pair(x=torch.ones(1), meta={})) == 1
    assert batch_weight((torch.ones(5), torch.ones(5))) == 1

    @dataclass
    class Sized:
        x: torch.Tensor

        def __len__(self) -> int:
            return int(self.x.shape[0])

    assert batch_weight(Sized(torch.ones(6, 2))) == 6


def test_fit_restores_the_global_determinism_settings() -> None:
    from train_toy import make_model, toy_config, train_batches

    from rnnlab.train import Trainer

    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.utils.deterministic.fill_uninitialized_memory,
    )
    seen: list[bool] = []
    trainer = Trainer(
        make_model(),
        toy_config(epochs=1, deterministic=True),
        on_step=lambda info: seen.append(torch.are_deterministic_algorithms_enabled()),
    )
    trainer.fit(train_batches)
    # On the CPU the global mode stays off: its kernels are deterministic already, and
    # switching it on imports torch._inductor (seconds per process).
    assert seen and not any(seen)
    after = (
        torch.are_deterministic_algorithms_enabled(),
        torch.utils.deterministic.fill_uninitialized_memory,
    )
    assert after == before


def test_deterministic_mode_switches_torch_on_for_cuda_and_restores_it() -> None:
    from rnnlab.train.seeding import deterministic_mode

    before = torch.are_deterministic_algorithms_enabled()
    with deterministic_mode(True, torch.device("cuda")):
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic
    assert torch.are_deterministic_algorithms_enabled() == before
    with deterministic_mode(True, torch.device("cpu")):
        assert torch.are_deterministic_algorithms_enabled() == before
