"""Recurrent.trace: per-step states and gates of every layer and direction, in the graph."""

from __future__ import annotations

import pytest
import torch

import rnnlab.nn as rnn

STEPS, BATCH, INPUT, HIDDEN = 4, 2, 3, 5


@pytest.mark.parametrize("cell", list(rnn.CELLS))
def test_trace_keys_shapes_and_agreement_with_forward(cell):
    spec = rnn.CELLS[cell]
    torch.manual_seed(0)
    layer = rnn.make_rnn(cell, INPUT, HIDDEN, 2, bidirectional=True, batch_first=True)
    x = torch.randn(BATCH, STEPS, INPUT)
    traces = layer.trace(x)
    assert len(traces) == 4  # l0, l0_reverse, l1, l1_reverse
    state_keys = {"h", "c"} if spec.has_cell_state else {"h"}
    probe_keys = {f"{k}_probe" for k in state_keys}
    for record in traces:
        assert set(record) == state_keys | probe_keys | set(spec.gates)
        for key in state_keys | set(spec.gates):
            assert record[key].shape == (STEPS, BATCH, HIDDEN), key
            assert record[key].requires_grad
    output, _ = layer(x)
    top = torch.cat([traces[2]["h"], traces[3]["h"]], -1).transpose(0, 1)
    torch.testing.assert_close(top, output)


def test_trace_with_projection_and_lengths():
    torch.manual_seed(0)
    layer = rnn.LSTM(INPUT, HIDDEN, proj_size=2, bidirectional=True)
    x = torch.randn(STEPS, BATCH, INPUT)
    lengths = torch.tensor([STEPS, 2])
    traces = layer.trace(x, lengths=lengths)
    assert traces[0]["h"].shape == (STEPS, BATCH, 2)
    assert traces[0]["c"].shape == (STEPS, BATCH, HIDDEN)
    output, (h_n, _) = layer(x, lengths=lengths)
    torch.testing.assert_close(traces[0]["h"][1, 1], h_n[0, 1])  # last valid step of sequence 1
    torch.testing.assert_close(traces[1]["h"][0, 1], h_n[1, 1])  # reverse ends at t = 0
    torch.testing.assert_close(
        output[:2, 1], torch.cat([traces[0]["h"], traces[1]["h"]], -1)[:2, 1]
    )


def test_probe_gradient_is_total_derivative_through_the_recurrence():
    torch.manual_seed(0)
    layer = rnn.make_rnn("gru", INPUT, HIDDEN, dtype=torch.float64)
    x = torch.randn(STEPS, BATCH, INPUT, dtype=torch.float64)
    (record,) = layer.trace(x)
    record["h"].retain_grad()
    loss = record["h"][-1].sum()  # a loss at the last step only
    loss.backward()
    # the same through a step-by-step run: dL/dh_t with autograd on each step's state
    states, h = [], None
    for t in range(STEPS):
        _, h = layer(x[t : t + 1], h)
        states.append(h)
    expected = torch.autograd.grad(states[-1].sum(), states)
    torch.testing.assert_close(record["h_probe"].grad, torch.cat(expected))
    assert float(record["h_probe"].grad[0].abs().sum()) > 0
    # retain_grad on "h" gives the part through the outputs only
    assert float(record["h"].grad[:-1].abs().sum()) == 0.0
