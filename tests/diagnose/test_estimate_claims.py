"""The claims study's cost estimate: one duration per planned run, horizons over the lengths
the bisection tries, and nothing stored."""

import dataclasses

from tiny_budget import TINY as TINY_CLAIMS

from rnnlab.cli import main
from rnnlab.diagnose.estimate import estimate_claims
from rnnlab.diagnose.experiments import BUDGETS, plan, units

# adding horizons over three lengths, so the longest bisection path has two trainings
TINY = dataclasses.replace(TINY_CLAIMS, horizon_lengths={"adding": (2, 3, 4), "copy": (1, 2)})


def test_one_duration_per_planned_run():
    arms, _ = plan(TINY)
    result = estimate_claims(TINY, workers=2)
    assert result.runs == len(units(arms, TINY.seeds))
    assert sum(c.runs for c in result.configs) == result.runs
    assert all(d > 0 for d in result.durations)
    assert result.workers == 2


def test_a_horizon_costs_the_trainings_of_the_longest_bisection_path():
    result = estimate_claims(TINY, workers=1, claims=[3])
    horizon = next(c for c in result.configs if c.label.startswith("adding horizon"))
    # lengths (2, 3, 4), every one solved: the bisection trains at 3, then 4
    assert "T=3,4 " in horizon.label
    assert horizon.steps == 2 * TINY.steps
    single = [c for c in result.configs if c.label.startswith("adding T=")]
    assert single and all(c.steps == TINY.steps for c in single)


def test_cli_estimate_runs_nothing_and_creates_no_store(tmp_path, capsys):
    store = tmp_path / "claims"
    argv = ["claims", "--budget", "quick", "--claims", "4", "--workers", "2",
            "--store", str(store), "--estimate"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    arms = [a for a in plan(BUDGETS["quick"])[0] if a.claim == 4]
    assert f"{len(units(arms, BUDGETS['quick'].seeds))} runs" in out
    assert "otherwise idle machine with 2 workers" in out
    assert not store.exists()


def test_adaptive_seeds_give_the_range_from_the_first_look_to_the_last():
    from rnnlab.diagnose.estimate import estimate_claims_range

    arms, _ = plan(TINY)
    first, last = estimate_claims_range(TINY, (TINY.seeds, TINY.seeds + 2), workers=1)
    assert first.runs == len(units(arms, TINY.seeds))
    assert last.runs == len(units(arms, TINY.seeds + 2)) > first.runs
    assert last.cpu_s > first.cpu_s


def test_cli_estimate_with_adaptive_seeds_gives_the_range(tmp_path, capsys):
    argv = ["claims", "--budget", "quick", "--claims", "4", "--workers", "2", "--seeds", "auto"]
    argv += ["--max-seeds", "7", "--store", str(tmp_path / "c"), "--estimate"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    arms = [a for a in plan(BUDGETS["quick"])[0] if a.claim == 4]
    first, last = (len(units(arms, seeds)) for seeds in (BUDGETS["quick"].seeds, 7))
    assert f"adaptive seeds (looks at {BUDGETS['quick'].seeds}, 5, 7 seeds)" in out
    assert f"between {first} runs" in out and f"and {last} runs" in out
