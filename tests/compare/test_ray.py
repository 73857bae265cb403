"""The Ray executor on a real local cluster: a head with no CPUs and two 1-CPU worker nodes.

Ray's start-up is slow (seconds per node), so the module shares one cluster; a test that
removes nodes adds fresh ones back before it ends.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fakes import fake_run
from run_plan import plan
from tiny_suite import TINY_CLI, tiny

import rnnlab
from rnnlab.compare.executor import RAN, run_all
from rnnlab.compare.plan import run_comparisons
from rnnlab.compare.store import Store
from rnnlab.compare.units import RunConfig, RunUnit
from rnnlab.errors import UserInputError

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow
from ray.cluster_utils import Cluster  # noqa: E402

from rnnlab.compare.ray_executor import RayExecutor, RayOptions  # noqa: E402

HERE = Path(__file__).parent
SRC = Path(rnnlab.__file__).parents[1]


@pytest.fixture(scope="module")
def cluster():
    # Workers import this rnnlab and the test helpers (fake_run travels by reference).
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(SRC), str(HERE), *([saved] if saved else [])])
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False}
    )
    for _ in range(2):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    yield cluster
    ray.shutdown()
    cluster.shutdown()
    if saved is None:
        del os.environ["PYTHONPATH"]
    else:
        os.environ["PYTHONPATH"] = saved


def _rows(root):
    store = Store.open(root)
    try:
        return {row.key: row for row in store.rows()}
    finally:
        store.close()


def test_ray_gives_exactly_the_local_metrics(cluster, tmp_path):
    comparisons = tiny(seeds=2, tune=2, epochs=1)
    run_comparisons(comparisons, str(tmp_path / "local"))
    planned = run_comparisons(
        comparisons, str(tmp_path / "ray"), ray=RayOptions(address=cluster.address)
    )
    local, remote = _rows(tmp_path / "local"), _rows(tmp_path / "ray")
    assert len(remote) == 8 and remote.keys() == local.keys()
    for key, row in remote.items():
        assert row.status == local[key].status == "done"
        assert row.metrics == local[key].metrics
        assert row.curves["train_loss"] == local[key].curves["train_loss"]
        assert row.versions["host"] and row.versions["cpu"]
        assert row.versions["torch"] == local[key].versions["torch"]
    assert {u.key for u in planned[0].final_units} == {
        k for k, r in remote.items() if r.phase == "final"
    }


def test_removed_nodes_mid_run_still_end_with_one_done_row_per_run(cluster, tmp_path, monkeypatch):
    # Each run takes 3 epochs of 0.4 s and checkpoints to shared storage after each; once
    # some run has finished and others are part-way, both worker nodes are removed (their
    # tasks die) and fresh ones added: Ray retries the lost tasks, which resume.
    units = [
        RunUnit(
            RunConfig(
                u.config.task,
                u.config.model,
                u.config.hidden_size,
                train={"epochs": 3, "epoch_seconds": 0.4},
            ),
            u.seed,
            u.phase,
        )
        for u in plan()
    ]
    checkpoints = tmp_path / "shared"
    outcomes, errors = [], []
    monkeypatch.setattr("rnnlab.compare.ray_executor.HEARTBEAT_SECONDS", 0.2)

    def drive() -> None:  # the driver, in a thread (its store connection is its own)
        options = RayOptions(
            address=cluster.address, checkpoints=str(checkpoints), poll_seconds=0.2
        )
        executor = RayExecutor(tmp_path / "store", fake_run, options=options)
        try:
            outcomes.extend(run_all(executor, units))
        except Exception as err:
            errors.append(err)
        finally:
            executor.close()

    Store.open(tmp_path / "store").close()  # created before two threads look at it
    driver = threading.Thread(target=drive)
    driver.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        rows = _rows(tmp_path / "store")
        done = [r for r in rows.values() if r.status == "done"]
        partway = [
            r
            for r in rows.values()
            if r.status == "running"
            and (checkpoints / r.key / "state.json").exists()
            and json.loads((checkpoints / r.key / "state.json").read_text())["epoch"] < 3
        ]
        if done and partway:
            break
        assert driver.is_alive(), errors
        time.sleep(0.05)
    else:
        pytest.fail("no run got part-way within 120 s")
    for node in list(cluster.worker_nodes):
        cluster.remove_node(node)
    for _ in range(2):
        cluster.add_node(num_cpus=1)
    driver.join(timeout=180)
    assert not driver.is_alive() and not errors, errors
    rows = _rows(tmp_path / "store")
    assert sorted(rows) == sorted(u.key for u in units)
    assert all(row.status == "done" for row in rows.values())
    assert [o.outcome for o in outcomes] == [RAN] * len(units)
    # the driver kept the leases of the runs in flight
    assert any(row.heartbeat_at > row.started_at + 0.1 for row in rows.values())
    # the lost runs were retried from their shared checkpoints, with the same numbers
    assert any((row.error or "").startswith("resumed at") for row in rows.values())
    for unit in units:
        expected = 3 * (unit.seed + 1) * unit.config.hidden_size / 1000
        assert rows[unit.key].metrics["test_accuracy"] == pytest.approx(expected)


def test_killed_driver_then_same_command_resumes_without_repeating(cluster, tmp_path):
    store = tmp_path / "store"
    # 15 epochs: runs long enough (a second or two) that the kill catches some unfinished
    argv = [
        *(sys.executable, "-m", "rnnlab.cli", "compare", *TINY_CLI, "--epochs", "15"),
        *("--seeds", "3", "--executor", "ray", "--address", cluster.address),
        *("--store", str(store), "--no-report"),
    ]
    first = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            if (store / "results.db").exists():
                rows = _rows(store)
                if any(r.status == "done" for r in rows.values()) and len(rows) == 6:
                    break
            assert first.poll() is None, "the driver ended before it could be killed"
            time.sleep(0.1)
        else:
            pytest.fail("no run finished within 180 s")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    before = _rows(store)
    finished = {k: r.finished_at for k, r in before.items() if r.status == "done"}
    assert len(finished) < 6
    second = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    after = _rows(store)
    assert len(after) == 6 and all(r.status == "done" for r in after.values())
    for key, row in after.items():
        if key in finished:  # not repeated
            assert row.finished_at == finished[key] and row.attempts == 1
        else:  # resumed by the second driver
            assert row.attempts == 2
    assert f"{6 - len(finished)} runs trained, {len(finished)} already in the store" in (
        second.stderr
    )


def test_a_run_out_of_retries_is_failed_with_ray_s_reason_then_retried(cluster, tmp_path):
    marker = tmp_path / "crash"
    marker.touch()  # while it exists, the run kills its worker process
    config = RunConfig("fake", "lstm", 8, train={"epochs": 1, "crash_while_exists": str(marker)})
    unit = RunUnit(config, 0, "final")
    options = RayOptions(address=cluster.address, max_retries=1, poll_seconds=0.2)
    executor = RayExecutor(tmp_path / "store", fake_run, options=options)
    try:
        assert run_all(executor, [unit])[0].status == "failed"
    finally:
        executor.close()
    (row,) = _rows(tmp_path / "store").values()
    assert row.status == "failed"
    assert "Ray gave up on this run (1 retries)" in row.error
    assert "WorkerCrashedError" in row.error
    marker.unlink()
    executor = RayExecutor(tmp_path / "store", fake_run, options=options, retry_failed=True)
    try:
        assert run_all(executor, [unit])[0].status == "done"
    finally:
        executor.close()
    (row,) = _rows(tmp_path / "store").values()
    assert row.status == "done" and row.attempts == 2 and row.error is None


def test_a_user_error_in_a_task_stops_the_driver_and_leaves_the_row_resumable(cluster, tmp_path):
    config = RunConfig("fake", "gru", 8, train={"epochs": 1, "user_error": True})
    options = RayOptions(address=cluster.address, checkpoints=str(tmp_path / "ck"))
    executor = RayExecutor(tmp_path / "store", fake_run, options=options)
    try:
        with pytest.raises(UserInputError, match=r"corrupt checkpoint in .*ck"):
            run_all(executor, [RunUnit(config, 0, "final")])
    finally:
        executor.close()
    (row,) = _rows(tmp_path / "store").values()
    assert row.status == "running"


def test_runs_no_node_can_hold_are_refused_before_anything_is_written(cluster, tmp_path):
    options = RayOptions(address=cluster.address)
    with pytest.raises(UserInputError, match=r"no node of the Ray cluster has 2 CPU\(s\)"):
        RayExecutor(tmp_path / "store", fake_run, options=options, threads=2)
    with pytest.raises(UserInputError, match=r"0\.5 GPU\(s\)"):
        RayExecutor(tmp_path / "store", fake_run, options=RayOptions(cluster.address, 0.5))
    assert not (tmp_path / "store").exists()
