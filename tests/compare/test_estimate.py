"""The cost estimate of a plan: run counts, scaling with steps, scheduling, nothing stored."""

import pytest
from tiny_suite import TINY_OPTIONS, tiny

from rnnlab.cli import main
from rnnlab.compare import estimate
from rnnlab.compare.estimate import StepCost, estimate_comparisons, schedule


def test_run_count_is_the_plans_size_and_the_estimate_is_positive():
    result = estimate_comparisons(tiny(seeds=2, tune=3), workers=2)
    assert result.runs == 2 * (3 + 2)  # two models, three trials and two seeds each
    assert [c.runs for c in result.configs] == [5, 5]
    assert result.workers == 2
    assert all(c.step_cpu_s > 0 and c.run_cpu_s > 0 for c in result.configs)
    assert 0 < result.wall_s <= result.cpu_s
    assert result.cpu_s == pytest.approx(sum(c.run_cpu_s * c.runs for c in result.configs))


def test_cost_scales_with_the_training_steps(monkeypatch):
    # a fixed step and evaluation cost, so the test checks the scaling, not the clock
    monkeypatch.setattr(estimate, "time_training", lambda *a, **k: StepCost(0.01, 0.5))
    short, long = (
        estimate_comparisons(tiny(seeds=1, epochs=epochs), workers=1).configs[0]
        for epochs in (3, 6)
    )
    steps_per_epoch = TINY_OPTIONS["train_size"] // 32
    assert (short.steps, long.steps) == (3 * steps_per_epoch, 6 * steps_per_epoch)
    # each epoch's validation and one test pass (the tiny task's val and test are the same size)
    assert short.run_cpu_s == pytest.approx(short.steps * 0.01 + (3 + 1) * 0.5)
    assert long.run_cpu_s == pytest.approx(long.steps * 0.01 + (6 + 1) * 0.5)


def test_schedule_deals_runs_in_order_to_the_first_free_worker():
    assert schedule([3, 3, 2, 2], 2) == 5
    assert schedule([5, 1, 1, 1, 1, 1], 2) == 5
    assert schedule([1, 1, 1, 5], 2) == 6  # the long run comes last: it cannot be balanced
    assert schedule([2, 2], 1) == 4
    with pytest.raises(ValueError, match="workers"):
        schedule([1], 0)


def test_more_workers_than_cores_share_them():
    result = estimate.Estimate("x", [], [10.0] * 4, workers=4, cores=2, load=(0, 0, 0))
    assert result.wall_s == 20.0  # 4 at once on 2 cores: each takes twice as long
    assert estimate.Estimate("x", [], [10.0] * 4, 2, 2, (0, 0, 0)).wall_s == 20.0


def test_cli_estimate_prints_runs_and_assumptions_and_creates_no_store(tmp_path, capsys):
    store = tmp_path / "store"
    argv = ["compare", "--task", "adding", "--length", "10", "--models", "lstm,gru",
            "--params", "575", "--seeds", "2", "--tune", "2", "--epochs", "2",
            "--option", "train_size=64", "--option", "eval_size=32", "--workers", "2",
            "--store", str(store), "--estimate"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "8 runs (2 configurations)" in out
    assert "otherwise idle machine with 2 workers" in out
    assert "load average" in out
    assert not store.exists()


def test_cli_estimate_with_adaptive_seeds_gives_the_range_of_runs(tmp_path, capsys):
    """Looks at 3, 5 and 7 seeds: 2 models × (2 trials + 3) runs at least, × (2 + 7) at most."""
    argv = ["compare", "--task", "adding", "--length", "10", "--models", "lstm,gru",
            "--params", "575", "--seeds", "auto", "--max-seeds", "7", "--tune", "2",
            "--epochs", "2", "--option", "train_size=64", "--option", "eval_size=32",
            "--workers", "2", "--store", str(tmp_path / "store"), "--estimate"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "adaptive seeds (looks at 3, 5, 7 seeds): between 10 runs" in out
    assert "and 18 runs" in out and "18 runs (2 configurations)" in out
