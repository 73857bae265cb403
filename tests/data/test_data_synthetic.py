"""Synthetic tasks against their definitions (docs/tasks.md)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from rnnlab.data.containers import Batch
from rnnlab.data.synthetic import SEQ2SEQ_VOCAB, make_task
from rnnlab.errors import UserInputError


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_adding_markers_and_target():
    task = make_task("adding", 12)
    b = task.batch(4000, _gen())
    assert b.x.shape == (4000, 12, 2) and b.x.dtype == torch.float32
    assert b.y.shape == (4000,)
    values, markers = b.x[..., 0], b.x[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert set(markers.unique().tolist()) == {0.0, 1.0}
    assert (markers.sum(1) == 2).all()  # two distinct positions
    torch.testing.assert_close(b.y, (values * markers).sum(1))
    # Positions drawn from the whole sequence: every position, both ends included, is used,
    # and both markers can fall in the same half.
    hits = markers.sum(0)
    assert (hits > 0).all()
    first_half = markers[:, :6].sum(1)
    assert (first_half == 2).any() and (first_half == 0).any()


def test_adding_halves_puts_one_marker_in_each_half():
    b = make_task("adding", 11, halves=True).batch(2000, _gen())
    markers = b.x[..., 1]
    assert (markers[:, :5].sum(1) == 1).all() and (markers[:, 5:].sum(1) == 1).all()


def test_adding_chance_baseline_from_data():
    task = make_task("adding", 50, test_size=20000)
    test = task.test_set()
    mse_always_one = task.metrics(torch.ones(len(test)), test)["mse"]
    assert mse_always_one == pytest.approx(1 / 6, abs=0.005)
    assert task.chance_level == pytest.approx(1 / 6)


@pytest.mark.parametrize("encoding", ["value", "one-hot"])
def test_copy_memory_layout(encoding):
    T = 30
    task = make_task("copy", T, encoding=encoding)
    b = task.batch(64, _gen(3))
    assert task.kind == "tagging" and task.num_classes == 10
    assert b.x.shape == (64, T + 20, task.input_size) and b.y.shape == (64, T + 20)
    tokens = b.x[..., 0] if encoding == "value" else b.x.argmax(-1).float()
    if encoding == "one-hot":
        assert (b.x.sum(-1) == 1).all()
    digits = tokens[:, :10]
    assert ((digits >= 1) & (digits <= 8)).all()
    assert (tokens[:, 10 : 10 + T - 1] == 0).all()
    assert (tokens[:, T + 9 :] == 9).all() and tokens[:, T + 9 :].shape[1] == 11
    assert (b.y[:, : T + 10] == 0).all()
    assert torch.equal(b.y[:, -10:], digits.long())


def test_copy_encodings_draw_the_same_sequences():
    value = make_task("copy", 20).batch(8, _gen(5))
    onehot = make_task("copy", 20, encoding="one-hot").batch(8, _gen(5))
    assert torch.equal(value.x[..., 0].long(), onehot.x.argmax(-1))


def test_copy_chance_baseline_from_data():
    T = 40
    task = make_task("copy", T)
    test = task.test_set()
    # The chance strategy: class 0 with certainty for T + 10 steps, then uniform over 1..8.
    probs = torch.zeros(len(test), T + 20, 10)
    probs[:, : T + 10, 0] = 1.0
    probs[:, T + 10 :, 1:9] = 1 / 8
    logits = torch.log(probs.clamp_min(1e-30))
    m = task.metrics(logits, test)
    expected = 10 * math.log(8) / (T + 20)
    assert m["cross_entropy"] == pytest.approx(expected, rel=1e-4)
    assert task.chance_level == pytest.approx(expected)
    perfect = F.one_hot(test.y, 10).float() * 50
    assert task.metrics(perfect, test)["recall_accuracy"] == 1.0


def test_fixed_sets_are_deterministic_and_separate():
    a, b = make_task("adding", 20, seed=1), make_task("adding", 20, seed=1)
    assert torch.equal(a.validation_set().x, b.validation_set().x)
    assert torch.equal(a.test_set().x, b.test_set().x)
    assert not torch.equal(a.validation_set().x, a.test_set().x)
    assert not torch.equal(a.validation_set().x, make_task("adding", 20, seed=2).validation_set().x)
    # Training batches come from the caller's generator, reproducibly.
    assert torch.equal(a.batch(4, a.train_generator()).x, b.batch(4, b.train_generator()).x)
    first = a.batch(4, a.train_generator()).x
    assert not torch.equal(first, a.validation_set().x[:4])


def _decode(ids: torch.Tensor) -> str:
    return "".join(SEQ2SEQ_VOCAB[i] for i in ids.tolist())


def test_reverse_task():
    task = make_task("reverse", 9, min_length=3)
    b = task.batch(200, _gen())
    assert b.x.dtype == torch.int64 and task.vocab == SEQ2SEQ_VOCAB
    assert int(b.lengths.min()) >= 3 and int(b.lengths.max()) <= 9
    assert len(set(b.lengths.tolist())) > 1  # variable lengths
    assert torch.equal(b.target_lengths, b.lengths + 1)  # output longer than input
    for x, n, y in zip(b.x, b.lengths, b.y, strict=True):
        assert (x[n:] == 0).all() and (y[n + 1 :] == 0).all()
        assert _decode(y[:n]) == _decode(x[:n])[::-1]
        assert SEQ2SEQ_VOCAB[int(y[n])] == "</s>"


def test_digit_add_task_exact_for_long_numbers():
    task = make_task("digit-add", 25)
    b = task.batch(100, _gen())
    assert b.x.shape[1] <= 51 and b.y.shape[1] <= 27
    for x, n, y, m in zip(b.x, b.lengths, b.y, b.target_lengths, strict=True):
        a_str, b_str = _decode(x[:n]).split("+")
        assert all(s == "0" or s[0] != "0" for s in (a_str, b_str))
        assert _decode(y[: m - 1]) == str(int(a_str) + int(b_str))
        assert SEQ2SEQ_VOCAB[int(y[m - 1])] == "</s>"
    assert (b.lengths != b.target_lengths).any()


def test_seq2seq_metrics():
    task = make_task("reverse", 5)
    b = task.batch(16, _gen())
    perfect = F.one_hot(b.y, len(SEQ2SEQ_VOCAB)).float() * 30
    m = task.metrics(perfect, b)
    assert m["sequence_accuracy"] == 1.0 and m["token_accuracy"] == 1.0
    assert m["cross_entropy"] < 1e-6
    wrong = perfect.clone()
    wrong[0, 0] = wrong[0, 0].roll(1)
    assert task.metrics(wrong, b)["sequence_accuracy"] == pytest.approx(15 / 16)


def test_make_task_errors():
    with pytest.raises(UserInputError, match="Did you mean 'adding'"):
        make_task("addin", 10)
    with pytest.raises(UserInputError, match="no option"):
        make_task("copy", 10, halves=True)
    with pytest.raises(UserInputError, match="length ≥ 2"):
        make_task("adding", 1)
    with pytest.raises(UserInputError, match="encoding"):
        make_task("copy", 10, encoding="binary")


def test_batch_to_and_len():
    b = Batch(torch.zeros(3, 2), torch.zeros(3), torch.ones(3, dtype=torch.long))
    moved = b.to("cpu")
    assert len(moved) == 3 and moved.target_lengths is None
