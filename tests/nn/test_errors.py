"""Bad input gives a ValueError/TypeError naming what was expected and what was given."""

from __future__ import annotations

import pytest
import torch

import rnnlab.nn as rnn


@pytest.fixture
def lstm():
    return rnn.make_rnn("lstm", 3, 4, 2, engine="reference")


@pytest.fixture
def gru():
    return rnn.make_rnn("gru", 3, 4, batch_first=True)


def test_wrong_rank(gru):
    with pytest.raises(ValueError, match=r"3-D tensor \(B, T, I\).*I=3, got shape \(5,\)"):
        gru(torch.randn(5))
    with pytest.raises(ValueError, match=r"got shape \(1, 2, 5, 3\)"):
        gru(torch.randn(1, 2, 5, 3))


def test_wrong_feature_size(gru):
    with pytest.raises(ValueError, match=r"expected input feature size I=3 .*got 7"):
        gru(torch.randn(2, 5, 7))


def test_wrong_initial_state_shape(lstm, gru):
    x = torch.randn(5, 2, 3)
    with pytest.raises(ValueError, match=r"expected h_0 of shape \(1, 2, 4\).*got \(2, 2, 4\)"):
        gru(x.transpose(0, 1), torch.zeros(2, 2, 4))
    with pytest.raises(ValueError, match=r"expected c_0 of shape \(2, 2, 4\).*got \(2, 2, 5\)"):
        lstm(x, (torch.zeros(2, 2, 4), torch.zeros(2, 2, 5)))
    with pytest.raises(TypeError, match=r"expects hx = \(h_0, c_0\).*got Tensor"):
        lstm(x, torch.zeros(2, 2, 4))
    with pytest.raises(TypeError, match=r"expects hx = h_0, a tensor, got tuple"):
        gru(x, (torch.zeros(1, 2, 4),))
    with pytest.raises(ValueError, match=r"expected h_0 of shape \(2, 4\)"):
        lstm(torch.randn(5, 3), (torch.zeros(2, 1, 4), torch.zeros(2, 1, 4)))


def test_dtype_and_device_mismatch(gru):
    with pytest.raises(
        TypeError,
        match=r"input has dtype torch.float64 but the layer's parameters are torch.float32",
    ):
        gru(torch.randn(2, 5, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"floating-point tensor, got dtype torch.int64"):
        gru(torch.ones(2, 5, 3, dtype=torch.int64))
    with pytest.raises(TypeError, match=r"h_0 has dtype torch.float64"):
        gru(torch.randn(2, 5, 3), torch.zeros(1, 2, 4, dtype=torch.float64))
    with pytest.raises(
        ValueError, match=r"input is on device meta but the layer's parameters are on cpu"
    ):
        gru(torch.randn(2, 5, 3, device="meta"))
    with pytest.raises(TypeError, match=r"Tensor or PackedSequence, got list"):
        gru([[1.0, 2.0, 3.0]])


def test_unsorted_and_zero_lengths():
    x = torch.randn(5, 3, 2)
    with pytest.raises(
        ValueError, match=r"sorted in decreasing order.*got \[2, 5, 1\].*enforce_sorted=False"
    ):
        rnn.pack_padded_sequence(x, [2, 5, 1])
    packed = rnn.pack_padded_sequence(x, [2, 5, 1], enforce_sorted=False)
    assert packed.batch_sizes.tolist() == [3, 2, 1, 1, 1]
    with pytest.raises(ValueError, match=r"zero-length sequence at batch index 1 \(length 0\)"):
        rnn.pack_padded_sequence(x, [5, 0, 0], enforce_sorted=False)
    with pytest.raises(ValueError, match=r"at most the padded length 5, got \[6, 1, 1\]"):
        rnn.pack_padded_sequence(x, [6, 1, 1])
    with pytest.raises(
        ValueError, match=r"integers of shape \(3,\), got dtype torch.int64 shape \(2,\)"
    ):
        rnn.pack_padded_sequence(x, [5, 1])
    layer = rnn.make_rnn("gru", 2, 4)
    with pytest.raises(ValueError, match=r"zero-length sequence .*T must be >= 1"):
        layer(torch.randn(0, 3, 2))
    with pytest.raises(ValueError, match=r"lengths must lie in 1..5 .*got min 0 max 5"):
        layer(x, lengths=torch.tensor([5, 0, 2]))


def test_unknown_cell_names_suggest_close_ones():
    with pytest.raises(
        ValueError, match=r"unknown cell 'lstm_peephole'.*did you mean 'lstm-peephole'"
    ):
        rnn.make_rnn("lstm_peephole", 3, 4)
    with pytest.raises(
        ValueError, match=r"unknown cell 'grue'.*expected one of \[.*'gru'.*did you mean 'gru'"
    ):
        rnn.make_rnn("grue", 3, 4)
    with pytest.raises(ValueError, match=r"unknown cell 'transformer': expected one of"):
        rnn.count_params("transformer", 3, 4)
    with pytest.raises(TypeError, match=r"unknown options \['layer_nrom'\]"):
        rnn.count_params("gru", 3, 4, layer_nrom=True)


def test_invalid_constructor_options():
    with pytest.raises(
        ValueError, match=r"proj_size is defined for the LSTM cells only, not for 'gru'"
    ):
        rnn.make_rnn("gru", 3, 4, proj_size=2)
    with pytest.raises(
        ValueError, match=r"proj_size has to be smaller than hidden_size \(4\), got 4"
    ):
        rnn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match=r"hidden_size must be a positive integer, got 0"):
        rnn.GRU(3, 0)
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\), got 1.5"):
        rnn.GRU(3, 4, 2, dropout=1.5)
    with pytest.raises(
        ValueError, match=r"recurrent_dropout needs a recurrent weight; cell 'mingru'"
    ):
        rnn.make_rnn("mingru", 3, 4, recurrent_dropout=0.2)
    with pytest.raises(
        ValueError, match=r"forget_bias was given but cell 'rnn-tanh' has no forget gate"
    ):
        rnn.make_rnn("rnn-tanh", 3, 4, forget_bias=1.0)
    with pytest.raises(ValueError, match=r"built with bias=False"):
        rnn.make_rnn("lstm", 3, 4, bias=False, forget_bias=1.0)
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        rnn.LSTM(3, 4, dropout=0.5)


@pytest.mark.parametrize("engine", ["native", "reference"])
def test_check_finite_detects_nan_and_inf(engine):
    layer = rnn.make_rnn("gru", 3, 4, check_finite=True, engine=engine)
    x = torch.randn(5, 2, 3)
    layer(x)  # finite: fine
    x[3, 1, 2] = float("nan")
    with pytest.raises(
        ValueError, match=r"input contains NaN or Inf \(first at index \(3, 1, 2\)\)"
    ):
        layer(x)
    with pytest.raises(ValueError, match=r"h_0 contains NaN or Inf"):
        layer(torch.randn(5, 2, 3), torch.full((1, 2, 4), float("inf")))
    packed = rnn.pack_padded_sequence(x, [5, 5])
    with pytest.raises(ValueError, match=r"input contains NaN or Inf"):
        layer(packed)
    unchecked = rnn.make_rnn("gru", 3, 4, engine=engine)
    assert torch.isnan(unchecked(x)[0]).any()  # off by default: NaN flows through
