"""Gradient flow, decay-rate fit and step Jacobians against hand-written references."""

import numpy as np
import pytest
import torch
from torch import nn

from rnnlab.diagnose.gradients import (
    decay_rate,
    find_recurrent,
    gradient_flow,
    step_jacobian_norms,
)


def _manual_tanh_states(rnn: nn.RNN, x: torch.Tensor) -> list[torch.Tensor]:
    """h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), written out step by step."""
    h = torch.zeros(x.shape[1], rnn.hidden_size, dtype=x.dtype)
    states = []
    for t in range(x.shape[0]):
        h = torch.tanh(
            x[t] @ rnn.weight_ih_l0.T + rnn.bias_ih_l0 + h @ rnn.weight_hh_l0.T + rnn.bias_hh_l0
        )
        if h.requires_grad:
            h.retain_grad()
        states.append(h)
    return states


def test_gradient_flow_matches_manual_backprop_through_time():
    torch.manual_seed(0)
    rnn = nn.RNN(3, 5).double()
    x = torch.randn(12, 4, 3, dtype=torch.float64)
    states = _manual_tanh_states(rnn, x)
    states[-1].sum(-1).mean().backward()
    expected = [float(h.grad.norm(dim=-1).mean()) for h in states]
    rnn.zero_grad()
    got = gradient_flow(rnn, x)
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    assert all(p.grad is None or not p.grad.any() for p in rnn.parameters())


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU])
def test_gradient_flow_gated_layers_batch_first_and_layers(cls):
    torch.manual_seed(1)
    rnn = cls(2, 6, num_layers=2, batch_first=True)
    x = torch.randn(3, 15, 2)
    norms = gradient_flow(rnn, x)
    assert norms.shape == (15,)
    assert np.all(norms > 0)
    # the last step receives the loss directly: d(sum h_T)/dh_T = 1/B per feature
    assert norms[-1] == pytest.approx(np.sqrt(6) / 3, rel=1e-6)
    lower = gradient_flow(rnn, x, layer=0)
    assert lower.shape == (15,) and not np.allclose(lower, norms)


class _Head(nn.Module):
    """A task model: an LSTM encoder and a loss on the last output."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.LSTM(2, 4, batch_first=True)
        self.out = nn.Linear(4, 1)

    def loss(self, batch):
        output, _ = self.encoder(batch["x"])
        return ((self.out(output[:, -1]).squeeze(-1) - batch["y"]) ** 2).mean()


def test_gradient_flow_through_a_model_uses_its_loss():
    torch.manual_seed(2)
    model = _Head()
    batch = {"x": torch.randn(5, 9, 2), "y": torch.randn(5)}
    norms = gradient_flow(model, batch)
    assert norms.shape == (9,)
    assert find_recurrent(model) is model.encoder
    # the layer's forward is restored afterwards
    assert "forward" not in vars(model.encoder)
    with pytest.raises(TypeError, match="no recurrent layer"):
        find_recurrent(nn.Linear(2, 2))


def test_bidirectional_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="unidirectional"):
        gradient_flow(nn.GRU(2, 3, bidirectional=True), torch.randn(4, 1, 2))


def test_decay_rate_recovers_a_geometric_series():
    rate = 0.8
    norms = 2.0 * rate ** np.arange(20)[::-1]
    assert decay_rate(norms) == pytest.approx(rate)
    with_zeros = norms.copy()
    with_zeros[:3] = 0.0  # underflowed steps are left out of the fit
    assert decay_rate(with_zeros) == pytest.approx(rate)
    assert np.isnan(decay_rate(np.array([1.0, 0.0])))
    assert decay_rate(1.1 ** np.arange(10)[::-1]) > 1  # exploding


def test_step_jacobian_of_tanh_rnn_is_diag_times_recurrent_matrix():
    torch.manual_seed(3)
    rnn = nn.RNN(2, 4).double()
    x = torch.randn(6, 3, 2, dtype=torch.float64)
    got = step_jacobian_norms(rnn, x)
    with torch.no_grad():
        states = _manual_tanh_states(rnn, x)
    for t, h in enumerate(states):
        for b in range(3):
            jac = torch.diag(1 - h[b] ** 2) @ rnn.weight_hh_l0.detach()
            assert got[t, b] == pytest.approx(float(torch.linalg.matrix_norm(jac, ord=2)))


def test_step_jacobian_lstm_covers_the_cell_state():
    torch.manual_seed(4)
    rnn = nn.LSTM(2, 3)
    norms = step_jacobian_norms(rnn, torch.randn(5, 2, 2))
    assert norms.shape == (5, 2)
    # at s_0 = 0 the Jacobian w.r.t. c is diag(f) (nonzero): the norm cannot be 0
    assert np.all(norms > 0)
