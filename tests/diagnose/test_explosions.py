"""Explosion events counted on known gradient-norm series."""

import numpy as np
import pytest

from rnnlab.diagnose.explosions import explosion_events, running_median


def test_running_median_looks_only_backwards():
    med = running_median(np.array([1.0, 3.0, 2.0, 100.0]), window=2)
    assert np.isnan(med[0])
    np.testing.assert_allclose(med[1:], [1.0, 2.0, 2.5])


def test_spikes_over_ten_times_the_running_median_are_counted():
    norms = np.ones(100)
    norms[[30, 70]] = 50.0  # two spikes
    norms[50] = 9.0  # under the factor: not an event
    summary = explosion_events(norms)
    assert summary.events == 2
    assert summary.event_steps == [30, 70]
    assert not summary.diverged and summary.divergence_step is None
    assert summary.max == 50.0


def test_slow_growth_is_not_an_event_but_a_nan_is_a_divergence():
    growing = 1.05 ** np.arange(60)  # grows 18x overall, never 10x its recent median
    assert explosion_events(growing).events == 0
    diverging = np.concatenate([np.ones(20), [np.inf, np.nan]])
    summary = explosion_events(diverging)
    assert summary.diverged and summary.divergence_step == 20
    assert summary.steps == 22 and summary.events == 0


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="1-D"):
        explosion_events(np.ones((2, 2)))
    with pytest.raises(ValueError, match="factor"):
        explosion_events(np.ones(5), factor=0.5)
