"""The executor interface without a cluster: pipelined planning, version checks, missing Ray."""

import sqlite3
import sys

import pytest
from tiny_suite import TINY_CLI

from rnnlab.cli import main
from rnnlab.compare.executor import RAN, UnitOutcome
from rnnlab.compare.plan import drive
from rnnlab.compare.ray_executor import check_versions
from rnnlab.compare.store import Store
from rnnlab.compare.units import RunConfig, RunUnit
from rnnlab.errors import UserInputError


def _unit(model: str, phase: str, seed: int) -> RunUnit:
    return RunUnit(RunConfig("fake", model, 8), seed, phase)


class OneAtATime:
    """An executor that finishes one submitted unit per wait(), oldest first, and logs."""

    def __init__(self):
        self.queue, self.log = [], []

    def submit(self, units):
        self.queue.extend(units)
        self.log.extend(("submit", u.config.model, u.phase) for u in units)

    def wait(self):
        unit = self.queue.pop(0)
        self.log.append(("done", unit.config.model, unit.phase))
        return [UnitOutcome(unit, RAN, "done")]

    def close(self):
        pass


def _pipeline(model: str, trials: int):
    yield [_unit(model, "tune", i) for i in range(trials)]
    yield [_unit(model, "final", i) for i in range(2)]


def test_a_model_s_final_runs_start_as_soon_as_its_own_trials_are_done():
    executor = OneAtATime()
    drive([_pipeline("a", 1), _pipeline("b", 3)], executor)
    log = executor.log
    a_finals = log.index(("submit", "a", "final"))
    last_b_trial = max(i for i, e in enumerate(log) if e == ("done", "b", "tune"))
    # a's finals go out right after a's one trial, while b is still tuning
    assert log.index(("done", "a", "tune")) < a_finals < last_b_trial
    assert log.count(("done", "a", "final")) == log.count(("done", "b", "final")) == 2
    assert not executor.queue


def test_versions_must_agree_between_driver_and_worker():
    driver = {"rnnlab": "0.1.0", "torch": "2.13.0", "python": "3.11.7", "host": "head"}
    check_versions(driver, {**driver, "host": "node-2", "numpy": "other"})
    with pytest.raises(UserInputError, match=r"node-2 runs torch 2\.12\.0 \(driver: 2\.13\.0\)"):
        check_versions(driver, {**driver, "host": "node-2", "torch": "2.12.0"})


def test_missing_ray_exits_2_naming_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    store = tmp_path / "store"
    assert main(["compare", *TINY_CLI, "--executor", "ray", "--store", str(store)]) == 2
    assert 'pip install "rnnlab[ray]"' in capsys.readouterr().err
    assert not store.exists()
    assert main(["claims", "--executor", "ray", "--store", str(store)]) == 2
    assert "rnnlab[ray]" in capsys.readouterr().err


def test_touch_refreshes_only_this_process_s_running_leases(tmp_path):
    store = Store.open(tmp_path)
    fields = {"phase": "final", "seed": 0, "task": "fake", "model": "lstm", "config": {}}
    for key in ("mine", "done", "theirs"):
        assert store.claim(key, **fields) == "new"
    store.finish("done", status="done")
    with sqlite3.connect(tmp_path / "results.db") as db:  # another host's row; old beats
        db.execute("UPDATE runs SET owner = 'elsewhere:1' WHERE key = 'theirs'")
        db.execute("UPDATE runs SET heartbeat_at = 1.0")
    store.touch(["mine", "done", "theirs"])
    beats = {row.key: row.heartbeat_at for row in store.rows()}
    assert beats["mine"] > 1.0 and beats["done"] == beats["theirs"] == 1.0
