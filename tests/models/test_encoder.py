"""rnnlab.models.make_encoder: every name, packing, summaries, task defaults, errors."""

import pytest
import torch

from rnnlab.errors import UserInputError
from rnnlab.models import encoder_names, make_encoder
from rnnlab.models.encoder import causal_encoder_name
from rnnlab.nn import CELLS


def _padded_batch(input_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    lengths = torch.tensor([5, 2, 4])
    x = torch.randn(3, 5, input_size)
    x[torch.arange(5)[None] >= lengths[:, None]] = 0.0
    return x, lengths


def test_names_cover_cells_bidirectional_and_tcn() -> None:
    names = encoder_names()
    assert set(CELLS) <= set(names)
    assert {"bilstm", "bigru", "birnn", "tcn"} <= set(names)


@pytest.mark.parametrize("name", encoder_names())
def test_padding_does_not_change_any_sequence(name: str) -> None:
    """Each sequence encoded inside a padded batch equals the sequence encoded alone."""
    encoder = make_encoder(name, 3, 4, num_layers=2).eval()
    x, lengths = _padded_batch(3)
    batched = encoder(x, lengths)
    bidirectional = name.startswith("bi")
    assert batched.outputs.shape == (3, 5, encoder.output_size)
    assert encoder.output_size == (8 if bidirectional else 4)
    assert batched.last.shape == (3, encoder.output_size)
    for b, n in enumerate(lengths.tolist()):
        alone = encoder(x[b : b + 1, :n])
        torch.testing.assert_close(batched.outputs[b, :n], alone.outputs[0])
        torch.testing.assert_close(batched.last[b], alone.last[0])
        if name != "tcn":
            assert torch.all(batched.outputs[b, n:] == 0)


def test_last_is_final_forward_and_first_backward_output() -> None:
    encoder = make_encoder("bigru", 3, 4).eval()
    x, lengths = _padded_batch(3)
    out = encoder(x, lengths)
    for b, n in enumerate(lengths.tolist()):
        expected = torch.cat([out.outputs[b, n - 1, :4], out.outputs[b, 0, 4:]])
        torch.testing.assert_close(out.last[b], expected)


@pytest.mark.parametrize("cell", ["lstm", "lstm-peephole", "lstm-cifg"])
def test_task_encoders_default_forget_bias_one(cell: str) -> None:
    encoder = make_encoder(cell, 2, 3)
    block, sign = CELLS[cell].forget_gate
    rows = slice(block * 3, (block + 1) * 3)
    layer = encoder.layer
    assert torch.all(layer.bias_ih_l0[rows] == sign * 1.0)
    assert torch.all(layer.bias_hh_l0[rows] == 0.0)
    overridden = make_encoder(cell, 2, 3, forget_bias=2.0)
    assert torch.all(overridden.layer.bias_ih_l0[rows] == sign * 2.0)
    make_encoder(cell, 2, 3, bias=False)  # no bias: no forget-bias default to apply


def test_state_carry_equals_one_long_run() -> None:
    encoder = make_encoder("lstm", 2, 3).eval()
    x = torch.randn(2, 8, 2)
    whole = encoder(x)
    first = encoder(x[:, :5])
    second = encoder(x[:, 5:], hx=first.state)
    torch.testing.assert_close(torch.cat([first.outputs, second.outputs], 1), whole.outputs)


def test_errors() -> None:
    with pytest.raises(UserInputError, match="unknown encoder 'lstmm'; expected one of"):
        make_encoder("lstmm", 2, 3)
    encoder = make_encoder("gru", 2, 3)
    with pytest.raises(UserInputError, match=r"lengths must lie in \[1, 4\]"):
        encoder(torch.randn(2, 4, 2), torch.tensor([4, 0]))
    with pytest.raises(UserInputError, match=r"shape \(2,\)"):
        encoder(torch.randn(2, 4, 2), torch.tensor([4]))
    with pytest.raises(UserInputError, match="hx must be None"):
        make_encoder("tcn", 2, 3)(torch.randn(1, 4, 2), hx=torch.zeros(1))
    with pytest.raises(UserInputError, match="would see the future"):
        causal_encoder_name("bilstm", {})
    with pytest.raises(UserInputError, match="would see the future"):
        causal_encoder_name("gru", {"bidirectional": True})
