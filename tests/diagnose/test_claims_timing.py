"""``rnnlab claims`` runs in parallel by default, as ``compare`` does, one torch thread per run;
its runs record CPU time beside wall time."""

from __future__ import annotations

import os

import pytest

from rnnlab.cli import main
from rnnlab.compare import executor
from rnnlab.compare.executor import SKIPPED, UnitOutcome
from rnnlab.diagnose import study
from rnnlab.diagnose.experiments import BUDGETS, plan, run_probe


@pytest.fixture
def executed(monkeypatch):
    """Record how the executor was asked to run the study, running nothing."""
    seen = {}

    class Idle:  # reports every unit finished without running it
        def submit(self, units):
            seen["units"] = len(units)
            self.units = list(units)

        def wait(self):
            return [UnitOutcome(unit, SKIPPED, "done") for unit in self.units]

        def close(self):
            pass

    def fake_make_executor(root, run_fn, *, workers, threads, on_outcome, ray):
        seen.update(workers=workers, threads=threads, ray=ray)
        return Idle()

    monkeypatch.setattr(study, "make_executor", fake_make_executor)
    return seen


def test_cli_defaults_to_one_worker_per_core_and_one_thread_each(tmp_path, executed):
    assert main(["claims", "--claims", "4", "--store", str(tmp_path / "s")]) == 0
    cores = os.cpu_count() or 1
    assert executed["workers"] == max(1, min(cores, 4)) and executed["threads"] == 1
    assert executed["units"] > 0


def test_cli_workers_and_threads_are_kept_when_given(tmp_path, executed):
    argv = ["claims", "--claims", "4", "--store", str(tmp_path / "s")]
    assert main([*argv, "--workers", "3", "--threads", "2"]) == 0
    assert (executed["workers"], executed["threads"]) == (3, 2)


@pytest.mark.parametrize("flag", ["--workers", "--threads"])
def test_cli_refuses_bad_counts(tmp_path, capsys, flag):
    assert main(["claims", flag, "0", "--store", str(tmp_path / "s")]) == 2
    assert f"{flag} must be 'auto' or an integer >= 1" in capsys.readouterr().err


def test_claims_models_count_as_small():
    for budget in BUDGETS.values():
        largest = max(budget.params, *budget.dataset_params.values())
        assert largest < executor.SMALL_MODEL_PARAMS, budget.name


def test_training_probes_record_cpu_seconds_beside_wall_seconds():
    from tiny_budget import TINY

    arm = next(a for a in plan(TINY)[0] if a.config.train.get("probe") == "train")
    metrics = run_probe(arm.config, 0).metrics
    assert metrics["train_cpu_seconds"] > 0 and metrics["cpu_seconds_to_target"] > 0
    assert metrics["cpu_seconds_to_target"] <= metrics["train_cpu_seconds"] + 1e-9
