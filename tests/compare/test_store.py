import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fakes import fake_run
from run_plan import plan

from rnnlab.compare.executor import RAN, SKIPPED, execute
from rnnlab.compare.store import SCHEMA_VERSION, Store
from rnnlab.compare.units import RunConfig, RunUnit
from rnnlab.errors import UserInputError

SCRIPT = Path(__file__).parent / "run_plan.py"


def _env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "FAKE_EPOCH_SECONDS": "0"}


def _final_rows(root):
    store = Store.open(root)
    rows = {r.key: (r.status, r.seed, r.model, r.metrics) for r in store.rows()}
    store.close()
    return rows


def test_new_store_has_schema_and_checkpoints(tmp_path):
    store = Store.open(tmp_path / "runs")
    assert store.schema_version == SCHEMA_VERSION
    assert (tmp_path / "runs" / "checkpoints").is_dir()
    mode = sqlite3.connect(tmp_path / "runs" / "results.db").execute("PRAGMA journal_mode")
    assert mode.fetchone()[0] == "wal"


def test_foreign_directory_and_corrupt_db_are_refused_untouched(tmp_path):
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"meow")
    with pytest.raises(UserInputError, match="not an rnnlab store"):
        Store.open(foreign)
    assert sorted(p.name for p in foreign.iterdir()) == ["cat.jpg"]

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "results.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UserInputError, match="not an rnnlab store"):
        Store.open(corrupt)
    assert (corrupt / "results.db").read_bytes() == b"this is not sqlite" * 100

    other = tmp_path / "other"
    other.mkdir()
    sqlite3.connect(other / "results.db").execute("CREATE TABLE t (x)").connection.commit()
    before = (other / "results.db").read_bytes()
    with pytest.raises(UserInputError, match="not an rnnlab store"):
        Store.open(other)
    assert (other / "results.db").read_bytes() == before


def test_newer_schema_is_refused(tmp_path):
    Store.open(tmp_path).close()
    db = sqlite3.connect(tmp_path / "results.db")
    db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.commit()
    with pytest.raises(UserInputError, match="schema 99"):
        Store.open(tmp_path)


def test_rerun_skips_done_and_retries_failed_only_on_request(tmp_path):
    units = plan()[:3]
    first = execute(units, tmp_path, fake_run)
    assert [o.outcome for o in first] == [RAN] * 3
    again = execute(units, tmp_path, fake_run)
    assert [o.outcome for o in again] == [SKIPPED] * 3

    failing = RunUnit(RunConfig("fake", "lstm", 4, train={"fail": True}), 0, "final")
    (outcome,) = execute([failing], tmp_path, fake_run)
    row = Store.open(tmp_path).get(failing.key)
    assert outcome.status == "failed" and "boom" in row.error
    assert execute([failing], tmp_path, fake_run)[0].outcome == SKIPPED
    assert execute([failing], tmp_path, fake_run, retry_failed=True)[0].outcome == RAN


def test_unfinished_run_of_dead_process_is_resumed_from_checkpoint(tmp_path):
    unit = plan()[0]
    store = Store.open(tmp_path)
    # A row left 'running' by a process that no longer exists, with a checkpoint at epoch 2.
    assert (
        store.claim(
            unit.key,
            phase="final",
            seed=unit.seed,
            task="fake",
            model="lstm",
            config=unit.config.to_dict(),
        )
        == "new"
    )
    store._db.execute("UPDATE runs SET owner = 'nohost-x:1' WHERE key = ?", (unit.key,))
    ckpt = store.checkpoint_dir(unit.key)
    ckpt.mkdir(parents=True)
    (ckpt / "state.json").write_text('{"epoch": 2, "total": 16.0, "resumed_from": null}')
    # owner on another host counts as alive: busy
    assert (
        store.claim(unit.key, phase="final", seed=0, task="fake", model="lstm", config={}) == "busy"
    )
    store._db.execute(
        "UPDATE runs SET owner = ? WHERE key = ?", (f"{os.uname().nodename}:999999999", unit.key)
    )
    (outcome,) = execute([unit], tmp_path, fake_run)
    row = store.get(unit.key)
    assert outcome.outcome == RAN and row.status == "done"
    assert row.attempts == 2 and row.error == "resumed at 2"
    assert row.metrics == _final_rows_single(tmp_path / "fresh", unit)


def _final_rows_single(root, unit):
    execute([unit], root, fake_run)
    return Store.open(root).get(unit.key).metrics


def test_two_processes_share_a_store_without_losing_or_duplicating_runs(tmp_path):
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    env = {**_env(), "FAKE_EPOCH_SECONDS": "0.1", "FAKE_BARRIER_DIR": str(barrier)}
    store_dir = tmp_path / "store"
    procs = [
        subprocess.Popen([sys.executable, str(SCRIPT), str(store_dir), "1"], env=env)
        for _ in range(2)
    ]
    deadline = time.time() + 120
    while len(list(barrier.glob("ready.*"))) < 2 and time.time() < deadline:
        time.sleep(0.02)
    (barrier / "go").touch()
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    store = Store.open(store_dir)
    rows = store.rows()
    assert len(rows) == len(plan()) and {r.status for r in rows} == {"done"}
    assert all(r.attempts == 1 for r in rows)  # nobody ran a run twice
    owners = {r.cost["pid"] for r in rows}
    assert owners == {p.pid for p in procs}  # both processes did work
    reference = tmp_path / "reference"
    execute(plan(), reference, fake_run)
    assert _final_rows(store_dir) == _final_rows(reference)


def test_workers_run_units_in_separate_processes(tmp_path):
    outcomes = execute(plan()[:4], tmp_path, fake_run, workers=2, threads=1)
    assert [o.status for o in outcomes] == ["done"] * 4
    rows = Store.open(tmp_path).rows()
    assert os.getpid() not in {r.cost["pid"] for r in rows}
    assert {r.cost["threads"] for r in rows} == {1}  # set in each worker


def test_runs_use_the_requested_torch_threads_and_give_them_back(tmp_path):
    import torch

    before = torch.get_num_threads()
    execute(plan()[:2], tmp_path / "one", fake_run, workers=1, threads=1)
    assert {r.cost["threads"] for r in Store.open(tmp_path / "one").rows()} == {1}
    assert torch.get_num_threads() == before  # the caller's setting is restored
    with pytest.raises(ValueError, match="threads"):
        execute(plan()[:1], tmp_path / "bad", fake_run, threads=0)


def test_parallelism_never_oversubscribes_the_cores(monkeypatch):
    from rnnlab.compare import executor

    monkeypatch.setattr(executor.os, "cpu_count", lambda: 8)
    assert executor.parallelism(None, None, largest_model=5_000) == (4, 1)
    assert executor.parallelism(None, None, largest_model=500_000) == (4, 2)
    assert executor.parallelism(1, None, largest_model=5_000) == (1, 1)  # tiny: one thread
    assert executor.parallelism(1, None, largest_model=500_000) == (1, 8)
    assert executor.parallelism(2, 3, largest_model=5_000) == (2, 3)  # explicit wins
    monkeypatch.setattr(executor.os, "cpu_count", lambda: 2)
    assert executor.parallelism(None, None, largest_model=5_000) == (2, 1)


def _claim(store, unit):
    return store.claim(
        unit.key, phase="final", seed=unit.seed, task="fake", model="lstm", config={}
    )


@pytest.mark.parametrize(
    "owner",
    ["otherhost-y:4242", f"{os.uname().nodename}:{os.getppid()}"],
    ids=["other-host", "live-pid-reused"],
)
def test_row_whose_heartbeat_is_stale_is_taken_over_and_resumed(tmp_path, owner):
    """The owner's pid cannot tell (another host; a reused pid that is alive): the lease does.
    Before the lease such a row stayed busy forever."""
    from rnnlab.compare.store import LEASE_SECONDS

    unit = plan()[0]
    store = Store.open(tmp_path)
    assert _claim(store, unit) == "new"
    store._db.execute("UPDATE runs SET owner = ? WHERE key = ?", (owner, unit.key))
    assert _claim(store, unit) == "busy"  # fresh heartbeat: the owner may be running
    stale = time.time() - LEASE_SECONDS - 1
    store._db.execute("UPDATE runs SET heartbeat_at = ? WHERE key = ?", (stale, unit.key))
    (outcome,) = execute([unit], tmp_path, fake_run)
    row = store.get(unit.key)
    assert outcome.outcome == RAN and row.status == "done" and row.attempts == 2


def test_heartbeat_refreshes_the_lease_while_the_run_runs(tmp_path):
    unit = plan()[0]
    store = Store.open(tmp_path)
    assert _claim(store, unit) == "new"
    first = store.get(unit.key).heartbeat_at
    with store.heartbeat(unit.key, every=0.01):
        deadline = time.monotonic() + 30
        while store.get(unit.key).heartbeat_at == first and time.monotonic() < deadline:
            time.sleep(0.02)
    beaten = store.get(unit.key).heartbeat_at
    assert beaten > first
    time.sleep(0.05)
    assert store.get(unit.key).heartbeat_at == beaten  # stopped with the block


def test_execute_unit_keeps_the_lease_around_the_run(tmp_path, monkeypatch):
    """execute_unit runs inside Store.heartbeat: a long run's row is refreshed."""
    import rnnlab.compare.store as store_module

    monkeypatch.setattr(store_module, "HEARTBEAT_SECONDS", 0.01)
    unit = plan()[0]
    seen = []

    def slow_run(config, seed, checkpoint_dir):
        store = Store.open(tmp_path)
        start = store.get(unit.key).heartbeat_at
        deadline = time.monotonic() + 30
        while store.get(unit.key).heartbeat_at == start and time.monotonic() < deadline:
            time.sleep(0.02)
        seen.append(store.get(unit.key).heartbeat_at > start)
        return fake_run(config, seed, checkpoint_dir)

    (outcome,) = execute([unit], tmp_path, slow_run)
    assert outcome.outcome == RAN and seen == [True]


_SCHEMA_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'diverged', 'failed')),
    phase TEXT NOT NULL, seed INTEGER NOT NULL, task TEXT NOT NULL, model TEXT NOT NULL,
    config TEXT NOT NULL, versions TEXT, metrics TEXT, curves TEXT, cost TEXT, error TEXT,
    owner TEXT, attempts INTEGER NOT NULL DEFAULT 1, created_at REAL NOT NULL,
    started_at REAL NOT NULL, finished_at REAL
);
INSERT INTO meta VALUES ('format', 'rnnlab-results'), ('schema_version', '1');
"""


def test_schema_1_store_opens_migrated_and_its_stale_rows_resume(tmp_path):
    unit = plan()[0]
    db = sqlite3.connect(tmp_path / "results.db")
    db.executescript(_SCHEMA_1)
    db.execute(
        "INSERT INTO runs (key, status, phase, seed, task, model, config, owner, created_at, "
        "started_at) VALUES (?, 'running', 'final', 0, 'fake', 'lstm', '{}', 'gone-host:7', 0, 0)",
        (unit.key,),
    )
    db.commit()
    db.close()
    store = Store.open(tmp_path)
    assert store.schema_version == SCHEMA_VERSION == 2
    assert store.get(unit.key).heartbeat_at is None  # started_at stands in for it
    (outcome,) = execute([unit], tmp_path, fake_run)
    assert outcome.outcome == RAN and store.get(unit.key).status == "done"
    Store.open(tmp_path).close()  # opening again: already migrated


def test_runs_going_are_the_running_rows_with_a_fresh_lease(tmp_path):
    """What the progress bar shows as "now": runs of any process, not finished or stale."""
    from rnnlab.compare.store import LEASE_SECONDS, runs_going

    assert runs_going(tmp_path / "none") == []  # no store yet: nothing, and nothing created
    assert not (tmp_path / "none").exists()
    first, second, third = plan()[:3]
    store = Store.open(tmp_path)
    for unit in (first, second, third):
        _claim(store, unit)
    store.finish(first.key, status="done", metrics={}, curves={}, cost={}, versions={})
    stale = time.time() - LEASE_SECONDS - 1
    store._db.execute("UPDATE runs SET heartbeat_at = ? WHERE key = ?", (stale, third.key))
    assert runs_going(tmp_path) == [("fake", "lstm", second.seed)]
