"""Horizon bisection, cost figures, gate statistics and diagnostics along training."""

import numpy as np
import pytest
import torch

from rnnlab.diagnose.cost import check_param_count, cost_table
from rnnlab.diagnose.gates import gate_statistics
from rnnlab.diagnose.gradients import gradient_flow
from rnnlab.diagnose.horizon import bisect_horizon, most_trainings
from rnnlab.diagnose.training import diagnose_training, plot_gates, plot_gradient_heatmap
from rnnlab.nn import CELLS, make_rnn


def test_bisection_finds_the_last_solved_length_with_few_calls():
    lengths = [5, 10, 20, 40, 80, 160]
    for true_horizon in (0, 5, 20, 160):
        calls = []

        def solves(length, true_horizon=true_horizon, calls=calls):
            calls.append(length)
            return length <= true_horizon

        assert bisect_horizon(solves, lengths) == true_horizon
        assert len(calls) <= 3 and len(set(calls)) == len(calls)
    with pytest.raises(ValueError, match="increasing"):
        bisect_horizon(lambda t: True, [5, 3])


@pytest.mark.parametrize("count", range(1, 40))
def test_most_trainings_bounds_every_bisection_and_is_reached(count):
    """The progress bar's total: never exceeded, and reached by some horizon."""
    lengths = list(range(1, count + 1))
    needed = []
    for true_horizon in range(count + 1):
        calls = []
        bisect_horizon(lambda t, h=true_horizon, c=calls: c.append(t) or t <= h, lengths)
        needed.append(len(calls))
    assert max(needed) == most_trainings(count)


@pytest.mark.parametrize("cell", list(CELLS))
def test_analytic_parameter_counts_match_the_built_modules(cell):
    assert check_param_count(cell, 3, 7) == sum(
        p.numel() for p in make_rnn(cell, 3, 7).parameters()
    )


def test_cost_table_gru_has_three_quarters_of_lstm_parameters_and_flops():
    table = cost_table(8, 8, cells=["lstm", "gru"], engines=["native"], length=3, repeats=1)
    by_cell = table.set_index("cell")
    assert by_cell.loc["gru", "params"] / by_cell.loc["lstm", "params"] == pytest.approx(0.75)
    assert by_cell.loc["gru", "flops_per_step"] / by_cell.loc["lstm", "flops_per_step"] == 0.75
    assert (table["us_per_step"] > 0).all()
    with pytest.raises(ValueError, match="unknown cell"):
        cost_table(2, 2, cells=["lstn"])


def test_gate_statistics_of_gates_with_known_biases():
    rnn = make_rnn("lstm", 2, 4)
    with torch.no_grad():
        for p in rnn.parameters():
            p.zero_()
        rnn.bias_ih_l0[4:8] = 10.0  # forget gate sigmoid(10) > 0.95: always saturated
        rnn.bias_ih_l0[12:16] = -1.0  # output gate sigmoid(-1) = 0.269
    stats = gate_statistics(rnn, torch.randn(6, 3, 2))
    assert set(stats) == {"i", "f", "o"}  # the tanh candidate g is not a gate
    np.testing.assert_allclose(stats["i"]["mean"], 0.5)
    np.testing.assert_allclose(stats["f"]["saturation"], 1.0)
    np.testing.assert_allclose(stats["o"]["mean"], 1 / (1 + np.e), rtol=1e-6)
    assert stats["o"]["saturation"].shape == (6,) and float(stats["o"]["overall_saturation"]) == 0
    assert gate_statistics(make_rnn("rnn-tanh", 2, 3), torch.randn(4, 1, 2)) == {}


def test_gradient_flow_agrees_with_the_trace_probes():
    torch.manual_seed(0)
    rnn = make_rnn("gru", 3, 5, batch_first=True)
    x = torch.randn(2, 8, 3)
    trace = rnn.trace(x)
    trace[-1]["h"][-1].sum(-1).mean().backward()  # loss on the last step's output
    expected = trace[-1]["h_probe"].grad.norm(dim=-1).mean(dim=1).numpy()
    np.testing.assert_allclose(gradient_flow(rnn, x), expected, rtol=1e-5)


def test_diagnostics_along_training_have_consistent_shapes_and_plots(tmp_path):
    diag = diagnose_training(
        "adding", "lstm", length=6, hidden_size=4, steps=6, checkpoints=2, probe_size=8
    )
    assert diag.checkpoint_steps == [0, 3, 6]
    assert diag.grad_flow.shape == (3, 6) and np.all(diag.grad_flow > 0)
    assert diag.decay_rates.shape == (3,)
    assert set(diag.gate_mean) == {"i", "f", "o"} and diag.gate_mean["f"].shape == (3, 6)
    assert diag.grad_norms.shape == (6,) and diag.explosions.steps == 6
    assert diag.jacobian_init.shape == (6, 2) and diag.jacobian_final.shape == (6, 2)
    assert plot_gradient_heatmap(diag, tmp_path / "h.png").stat().st_size > 0
    assert plot_gates(diag, tmp_path / "g.png").stat().st_size > 0
    tcn = diagnose_training("adding", "tcn", length=6, hidden_size=4, steps=2, checkpoints=1)
    assert np.isnan(tcn.grad_flow).all() and tcn.gate_mean == {}
