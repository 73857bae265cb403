"""CharLanguageModel, MusicModel, Seq2Seq and SequenceAutoencoder."""

import math

import pytest
import torch
import torch.nn.functional as F

from rnnlab.data import Batch, make_task
from rnnlab.errors import UserInputError
from rnnlab.models import CharLanguageModel, MusicModel, Seq2Seq, SequenceAutoencoder


def _text_batch(batch_size: int = 3, steps: int = 12) -> torch.Tensor:
    return torch.randint(1, 15, (batch_size, steps + 1), generator=torch.Generator().manual_seed(0))


def _lm(encoder: str = "lstm", **options) -> CharLanguageModel:
    torch.manual_seed(0)
    return CharLanguageModel(
        encoder=encoder, vocab_size=15, embedding_dim=6, hidden_size=12, **options
    )


def test_carried_state_equals_one_long_sequence() -> None:
    model = _lm()
    text = _text_batch()
    whole = model.loss(Batch(text[:, :-1], text[:, 1:]))
    model.reset_state()
    first = model.loss(Batch(text[:, :5], text[:, 1:6]))
    state = model._carried[True]
    assert not state[0].requires_grad  # detached: gradients stop at the chunk boundary
    second = model.loss(Batch(text[:, 5:-1], text[:, 6:]))
    torch.testing.assert_close((5 * first + 7 * second) / 12, whole)
    model.reset_state()
    fresh = model.loss(Batch(text[:, 5:-1], text[:, 6:]))
    assert not torch.allclose(fresh, second)
    # A batch of another size starts from zeros instead of failing.
    model.loss(Batch(text[:2, :5], text[:2, 1:6]))
    no_carry = _lm(carry_state=False)
    no_carry.loss(Batch(text[:, :5], text[:, 1:6]))
    assert no_carry._carried[True] is None


@pytest.mark.parametrize("encoder", ["gru", "tcn"])
def test_sampling_is_seeded_and_matches_the_model(encoder) -> None:
    model = _lm(encoder)
    prefix = [3, 4, 5]

    def draw(seed: int, temperature: float = 1.0) -> torch.Tensor:
        return model.sample(prefix, 15, temperature, torch.Generator().manual_seed(seed))

    sample = draw(7)
    assert sample.dtype == torch.int64 and sample.shape == (15,)
    assert torch.equal(draw(7), sample)
    assert not torch.equal(draw(8), sample)
    # Greedy samples are the argmax of the model's own next-token logits on the full text.
    greedy = draw(0, temperature=0.0)
    text = torch.cat([torch.tensor(prefix), greedy]).unsqueeze(0)
    with torch.no_grad():
        logits, _ = model.eval()(text[:, :-1])
    assert torch.equal(logits[0, len(prefix) - 1 :].argmax(-1), greedy)
    assert model.sample(prefix, 0).shape == (0,)
    with pytest.raises(UserInputError, match="at least one token"):
        model.sample([], 3)


def test_language_model_overfits_and_reports_bits(overfit) -> None:
    model = _lm(carry_state=False)
    text = _text_batch()
    batch = Batch(text[:, :-1], text[:, 1:])
    losses = overfit(model, batch, steps=30, lr=0.03)
    assert losses[-1] < 0.5 * losses[0]
    metrics = model.metrics(batch)
    assert metrics["bits_per_char"] == pytest.approx(metrics["loss"] / math.log(2))
    assert metrics["perplexity"] == pytest.approx(math.exp(metrics["loss"]))
    with pytest.raises(UserInputError, match="would see the future"):
        _lm("bilstm")


def _rolls() -> Batch:
    generator = torch.Generator().manual_seed(0)
    rolls = (torch.rand(3, 9, 6, generator=generator) > 0.6).float()
    lengths = torch.tensor([8, 5, 3])
    mask = torch.arange(8)[None, :, None] < lengths[:, None, None]
    return Batch(rolls[:, :-1] * mask, rolls[:, 1:] * mask, lengths)


def test_music_nll_per_frame_is_summed_bce_over_pitches(overfit) -> None:
    torch.manual_seed(0)
    model = MusicModel(encoder="gru", num_pitches=6, hidden_size=8)
    batch = _rolls()
    probabilities = model.predict(batch.x, batch.lengths)
    frames = [
        -(y * p.log() + (1 - y) * (1 - p).log()).sum()
        for b, n in enumerate(batch.lengths.tolist())
        for p, y in zip(probabilities[b, :n], batch.y[b, :n], strict=True)
    ]
    expected = float(torch.stack(frames).mean())
    metrics = model.metrics(batch)
    assert metrics["nll_per_frame"] == pytest.approx(expected, rel=1e-5)
    assert metrics["loss"] == metrics["nll_per_frame"]
    played = probabilities >= 0.5
    valid = torch.arange(8)[None, :, None] < batch.lengths[:, None, None]
    truth = batch.y.bool()
    tp = (played & truth & valid).sum()
    errors = ((played ^ truth) & valid).sum()
    assert metrics["frame_accuracy"] == pytest.approx(float(tp / (tp + errors)))
    losses = overfit(model, batch, steps=30, lr=0.05)
    assert losses[-1] < 0.6 * losses[0]


def _reverse_batch() -> tuple[int, Batch]:
    task = make_task("reverse", 5)
    return len(task.vocab), task.batch(8, task.train_generator())


def _seq2seq(attention: str | None, encoder: str = "bigru") -> Seq2Seq:
    torch.manual_seed(0)
    vocab, _ = _reverse_batch()
    return Seq2Seq(
        encoder=encoder, vocab_size=vocab, embedding_dim=8, hidden_size=16, attention=attention
    )


@pytest.mark.parametrize("attention", ["luong", "bahdanau"])
def test_seq2seq_overfits_reversal(attention, overfit) -> None:
    model = _seq2seq(attention)
    _, batch = _reverse_batch()
    losses = overfit(model, batch, steps=40, lr=0.03)
    assert losses[-1] < 0.5 * losses[0]
    metrics = model.metrics(batch)
    assert set(metrics) == {"loss", "cross_entropy", "token_accuracy", "sequence_accuracy"}
    predicted = model.predict(batch.x, batch.lengths, max_length=batch.y.shape[1])
    predicted = F.pad(predicted, (0, batch.y.shape[1] - predicted.shape[1]))
    valid = batch.y != 0
    expected = float(((predicted == batch.y) & valid).sum() / valid.sum())
    assert metrics["token_accuracy"] == pytest.approx(expected)


@pytest.mark.parametrize("attention", ["luong", "bahdanau", None])
def test_greedy_decoding_is_consistent_and_ignores_padding(attention) -> None:
    model = _seq2seq(attention, encoder="lstm")
    _, batch = _reverse_batch()
    tokens, weights = model.generate(batch.x, batch.lengths, max_length=6)
    assert tokens.shape[0] == 8 and tokens.shape[1] <= 6
    if attention is None:
        assert weights is None
    else:
        assert weights.shape == (8, tokens.shape[1], batch.x.shape[1])
        padded = torch.arange(batch.x.shape[1])[None] >= batch.lengths[:, None]
        assert torch.all(weights.masked_select(padded[:, None].expand_as(weights)) == 0)
    # Teacher forcing on its own greedy output reproduces it (until each sequence's </s>).
    with torch.no_grad():
        logits = model.eval()(batch.x, batch.lengths, tokens)
    running = (
        torch.cumsum(tokens == model.config.eos_id, 1) - (tokens == model.config.eos_id).long()
    )
    alive = running == 0  # steps up to and including the first </s>
    assert torch.equal(logits.argmax(-1)[alive], tokens[alive])
    assert torch.all(tokens[~alive] == 0)  # nothing after </s>
    for b, n in enumerate(batch.lengths.tolist()):
        alone, _ = model.generate(batch.x[b : b + 1, :n], max_length=6)
        torch.testing.assert_close(alone[0], tokens[b, : alone.shape[1]])


def test_autoencoder_embeddings_ignore_padding_and_chunking(overfit) -> None:
    torch.manual_seed(0)
    model = SequenceAutoencoder(encoder="gru", input_size=3, hidden_size=12, embedding_size=4)
    lengths = torch.tensor([7, 3, 5, 2, 6])
    x = torch.randn(5, 7, 3)
    x[torch.arange(7)[None] >= lengths[:, None]] = 0.0
    codes = model.embed(x, lengths)
    assert codes.shape == (5, 4)
    torch.testing.assert_close(model.embed(x, lengths, batch_size=2), codes)
    for b, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(model.embed(x[b : b + 1, :n])[0], codes[b])
    assert model.predict(x, lengths).shape == x.shape
    batch = Batch(x, torch.zeros(5), lengths)
    losses = overfit(model, batch, steps=40, lr=0.03)
    assert losses[-1] < 0.6 * losses[0]
    assert model.metrics(batch)["mse"] == pytest.approx(model.metrics(batch)["loss"])
