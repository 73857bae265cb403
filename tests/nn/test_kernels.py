"""Sequence kernels with hand-written backward passes: values and float64 gradchecks."""

from __future__ import annotations

import pytest
import torch

from rnnlab.nn.kernels.gru import gru_sequence
from rnnlab.nn.kernels.linear_scan import linear_scan, linear_scan_sequential
from rnnlab.nn.kernels.lstm import lstm_sequence
from rnnlab.nn.kernels.rnn import rnn_sequence

T, B, H = 5, 3, 4
SIZES = [3, 3, 2, 1, 1]
D = torch.float64


def _rand(*shape, scale=0.5):
    return (torch.randn(*shape, dtype=D) * scale).requires_grad_()


@pytest.mark.parametrize("steps", [1, 2, 5, 17, 100])
def test_linear_scan_equals_sequential_for_any_length(steps):
    torch.manual_seed(steps)
    a, b, h0 = (
        torch.rand(steps, 2, 3, dtype=D),
        torch.randn(steps, 2, 3, dtype=D),
        torch.randn(2, 3, dtype=D),
    )
    torch.testing.assert_close(linear_scan(a, b, h0), linear_scan_sequential(a, b, h0))


def test_linear_scan_survives_underflowing_products_in_float32():
    a = torch.full((2000, 1, 2), 1e-3)
    b = torch.ones(2000, 1, 2)
    h = linear_scan(a, b, torch.ones(1, 2))
    torch.testing.assert_close(h[-1], torch.full((1, 2), 1 / (1 - 1e-3)))


def test_linear_scan_gradcheck():
    torch.manual_seed(0)
    a = torch.rand(11, 2, 3, dtype=D).requires_grad_()
    assert torch.autograd.gradcheck(linear_scan, (a, _rand(11, 2, 3), _rand(2, 3)))


def test_linear_scan_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="h0 of shape"):
        linear_scan(torch.ones(4, 2, 3), torch.ones(4, 2, 3), torch.ones(3, 2))


@pytest.mark.parametrize("sizes", [None, SIZES])
def test_lstm_kernel_gradcheck(sizes):
    torch.manual_seed(1)
    fn = lambda xp, h0, c0, w: lstm_sequence(xp, h0, c0, w, sizes)  # noqa: E731
    assert torch.autograd.gradcheck(
        fn, (_rand(T, B, 4 * H), _rand(B, H), _rand(B, H), _rand(4 * H, H))
    )


@pytest.mark.parametrize("sizes", [None, SIZES])
def test_gru_kernel_gradcheck(sizes):
    torch.manual_seed(2)
    fn = lambda xp, h0, w, b: gru_sequence(xp, h0, w, b, sizes)  # noqa: E731
    assert torch.autograd.gradcheck(
        fn, (_rand(T, B, 3 * H), _rand(B, H), _rand(3 * H, H), _rand(3 * H))
    )


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_kernel_gradcheck(nonlinearity):
    torch.manual_seed(3)
    fn = lambda xp, h0, w: rnn_sequence(xp, h0, w, nonlinearity, SIZES)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (_rand(T, B, H), _rand(B, H), _rand(H, H)))


@pytest.mark.parametrize("module", [torch.nn.LSTM, torch.nn.GRU, torch.nn.RNN])
def test_kernels_equal_torch_nn(module):
    torch.manual_seed(4)
    layer = module(2, H).double()
    x = torch.randn(T, B, 2, dtype=D)
    h0 = torch.randn(B, H, dtype=D)
    p = {k.removesuffix("_l0"): v for k, v in layer.named_parameters()}
    if module is torch.nn.GRU:
        got = gru_sequence(x @ p["weight_ih"].T + p["bias_ih"], h0, p["weight_hh"], p["bias_hh"])
        want, _ = layer(x, h0[None])
    else:
        xp = x @ p["weight_ih"].T + p["bias_ih"] + p["bias_hh"]
        if module is torch.nn.LSTM:
            got, _ = lstm_sequence(xp, h0, h0, p["weight_hh"])
            want, _ = layer(x, (h0[None], h0[None]))
        else:
            got = rnn_sequence(xp, h0, p["weight_hh"])
            want, _ = layer(x, h0[None])
    torch.testing.assert_close(got, want)


def test_rnn_kernel_rejects_unknown_nonlinearity():
    with pytest.raises(ValueError, match="'tanh' or 'relu'"):
        rnn_sequence(torch.ones(2, 1, 3), torch.ones(1, 3), torch.ones(3, 3), "sigmoid")
