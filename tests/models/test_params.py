"""count_parameters and match_hidden_size (parameter-matched comparisons)."""

import pytest
import torch

from rnnlab.errors import UserInputError
from rnnlab.models import SequenceRegressor, SequenceTagger, count_parameters, match_hidden_size
from rnnlab.nn import count_params


def _regressor(encoder: str):
    return lambda hidden: SequenceRegressor(encoder=encoder, input_size=2, hidden_size=hidden)


def test_count_parameters_matches_formula() -> None:
    model = SequenceRegressor(encoder="gru", input_size=2, hidden_size=7)
    head = 7 + 1
    assert count_parameters(model) == count_params("gru", 2, 7) + head
    model.head.weight.requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == count_params("gru", 2, 7) + 1


@pytest.mark.parametrize("budget", [5_000, 20_000])
def test_matched_counts_within_three_percent_and_cheaper_cells_get_more_units(budget) -> None:
    hidden = {}
    for encoder in ["lstm", "gru", "rnn-tanh", "tcn", "bilstm", "mingru"]:
        h, count = match_hidden_size(_regressor(encoder), budget)
        assert count == count_parameters(_regressor(encoder)(h))
        assert abs(count - budget) <= 0.03 * budget, (encoder, h, count)
        hidden[encoder] = h
    assert hidden["lstm"] < hidden["gru"] < hidden["rnn-tanh"]  # Chung et al. 2014's design


def test_picks_the_closest_hidden_size() -> None:
    build = _regressor("gru")
    h, count = match_hidden_size(build, 10_000)
    for other in (h - 1, h + 1):
        assert abs(count - 10_000) <= abs(count_parameters(build(other)) - 10_000)


def test_budget_too_small_names_smallest_count() -> None:
    def build(hidden: int) -> torch.nn.Module:
        return SequenceTagger(encoder="lstm", input_size=50, num_classes=10, hidden_size=hidden)

    smallest = count_parameters(build(1))
    with pytest.raises(UserInputError, match=f"smallest achievable count is {smallest:,}"):
        match_hidden_size(build, 100)
    with pytest.raises(ValueError, match="positive"):
        match_hidden_size(build, 0)


def test_unreachable_tolerance_reports_neighbours() -> None:
    # A model whose count jumps by 1000 per unit cannot land within 3 % of 1500.
    def build(hidden: int) -> torch.nn.Module:
        return torch.nn.Linear(1000, hidden, bias=False)

    with pytest.raises(UserInputError, match="hidden size 1 has 1,000, hidden size 2 has 2,000"):
        match_hidden_size(build, 1500)
