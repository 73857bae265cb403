import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tiny_suite import TINY_OPTIONS, tiny

from rnnlab.compare.executor import SKIPPED, execute
from rnnlab.compare.plan import (
    Comparison,
    lr_grid,
    matched_hidden_sizes,
    parse_budget,
    run_comparisons,
    tcn_levels,
)
from rnnlab.compare.runner import run_one
from rnnlab.compare.store import Store
from rnnlab.compare.tasks import get_task
from rnnlab.compare.units import RunConfig, RunUnit
from rnnlab.errors import UserInputError
from rnnlab.train.checkpoint import checkpoint_path

SCRIPT = Path(__file__).parent / "tiny_suite.py"


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_unknown_task_and_option_name_the_valid_ones():
    with pytest.raises(UserInputError, match=r"valid tasks: .*adding.*Did you mean 'adding'"):
        get_task("addng")
    with pytest.raises(UserInputError, match="has no option"):
        get_task("adding").build({"lenght": 5})


def test_parse_budget_and_grid():
    assert parse_budget("20k") == 20_000
    assert parse_budget("1.5M") == 1_500_000
    assert parse_budget("8000") == 8000
    with pytest.raises(UserInputError, match="20k"):
        parse_budget("lots")
    assert lr_grid(1e-3, 1) == [1e-3]
    assert lr_grid(1e-3, 3) == [1e-4, 1e-3, 1e-2]


def test_tcn_levels_cover_the_sequence():
    for length in (10, 50, 1020):
        levels = tcn_levels(length)
        assert 1 + 4 * (2**levels - 1) >= length > 1 + 4 * (2 ** (levels - 1) - 1)


def test_budget_matching_within_three_percent_with_exact_counts():
    comparison = Comparison("adding", ["lstm", "gru", "rnn", "tcn"], TINY_OPTIONS, budget=4050)
    sizes = matched_hidden_sizes(comparison)
    data = get_task("adding").build(TINY_OPTIONS)
    for model, (hidden, count, layers) in sizes.items():
        assert abs(count - 4050) <= 0.03 * 4050
        encoder = "rnn-tanh" if model == "rnn" else model
        built = data.make_model(encoder, hidden, layers)
        assert count == sum(p.numel() for p in built.parameters())
    # the cheaper cells get more units (Chung et al. 2014)
    assert sizes["lstm"][0] < sizes["gru"][0] < sizes["rnn"][0]
    with pytest.raises(UserInputError, match="too small"):
        matched_hidden_sizes(Comparison("adding", ["lstm"], TINY_OPTIONS, budget=10))


def test_tuning_then_final_runs_and_rerun_skips_everything(tmp_path):
    planned = run_comparisons(tiny(seeds=2, tune=2, epochs=1), str(tmp_path))
    store = Store.open(tmp_path)
    tune, final = store.rows(phase="tune"), store.rows(phase="final")
    assert len(tune) == 4 and len(final) == 4
    assert {r.status for r in store.rows()} == {"done"}
    for model in ("lstm", "gru"):
        trials = [r for r in tune if r.model == model]
        best = min(trials, key=lambda r: r.metrics["val_mse"])
        chosen = {r.config["train"]["lr"] for r in final if r.model == model}
        assert chosen == {best.config["train"]["lr"]} == {planned[0].chosen_lr[model]}
        assert {r.seed for r in final if r.model == model} == {0, 1}
    row = final[0]
    assert abs(row.cost["params"] - 575) <= 0.03 * 575
    # CPU time beside the wall time, so timings can be read on a shared machine
    assert row.cost["cpu_time_per_epoch_s"] > 0 and row.cost["train_cpu_s"] > 0
    assert row.cost["cpus"] == os.cpu_count()
    assert set(row.curves) >= {"epoch", "train_loss", "val_mse"}
    assert {"test_mse", "val_mse"} <= set(row.metrics)
    assert row.versions["torch"] == torch.__version__

    seen = []
    run_comparisons(tiny(seeds=2, tune=2, epochs=1), str(tmp_path), on_outcome=seen.append)
    assert len(seen) == 8 and {o.outcome for o in seen} == {SKIPPED}


def test_optuna_tuning_is_replayed_on_rerun(tmp_path):
    comparisons = tiny(seeds=1, tune=2, epochs=1)
    comparisons[0].tuner = "optuna"
    planned = run_comparisons(comparisons, str(tmp_path))
    tune = Store.open(tmp_path).rows(phase="tune")
    assert len(tune) == 4 and {r.model for r in tune} == {"lstm", "gru"}
    lrs = {r.config["train"]["lr"] for r in tune}
    assert all(1e-4 <= lr <= 1e-2 for lr in lrs)
    seen = []
    again = run_comparisons(comparisons, str(tmp_path), on_outcome=seen.append)
    assert {o.outcome for o in seen} == {SKIPPED}  # same suggestions, found in the store
    assert again[0].chosen_lr == planned[0].chosen_lr


def test_corrupt_checkpoint_is_a_clear_error_and_is_not_overwritten(tmp_path):
    config = RunConfig(
        "adding", "gru", 4, TINY_OPTIONS, {"epochs": 1, "batch_size": 32, "lr": 1e-3}
    )
    path = checkpoint_path(tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"garbage")
    with pytest.raises(UserInputError, match="Delete"):
        run_one(config, 0, tmp_path)
    assert path.read_bytes() == b"garbage"
    # through the executor the row stays unfinished and the error reaches the caller
    unit = RunUnit(config, 0, "final")
    store_dir = tmp_path / "store"
    target = checkpoint_path(Store.open(store_dir).checkpoint_dir(unit.key))
    target.parent.mkdir(parents=True)
    target.write_bytes(b"garbage")
    with pytest.raises(UserInputError):
        execute([unit], store_dir, run_one)
    assert Store.open(store_dir).get(unit.key).status == "running"


def _final_metrics(root):
    return {
        (r.model, r.seed): (r.status, r.metrics, r.config)
        for r in Store.open(root).rows(phase="final")
    }


def test_kill_9_mid_suite_then_rerun_equals_uninterrupted(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    interrupted, reference = tmp_path / "interrupted", tmp_path / "reference"
    proc = subprocess.Popen([sys.executable, str(SCRIPT), str(interrupted), "6"], env=env)
    deadline = time.time() + 120
    killed_mid_run = False
    while time.time() < deadline and proc.poll() is None:
        db = interrupted / "results.db"
        if db.exists():
            rows = Store.open(interrupted).rows()
            running = [r for r in rows if r.status == "running"]
            # kill once a run is unfinished and has written at least one epoch checkpoint
            if running and checkpoint_path(interrupted / "checkpoints" / running[0].key).exists():
                os.kill(proc.pid, signal.SIGKILL)
                killed_mid_run = True
                break
        time.sleep(0.02)
    proc.wait()
    assert killed_mid_run, "the tiny suite finished before it could be killed"
    assert any(r.status == "running" for r in Store.open(interrupted).rows())

    run_comparisons(tiny(epochs=6), str(interrupted))
    resumed = [r for r in Store.open(interrupted).rows() if r.attempts > 1]
    assert resumed  # the killed run was resumed, not restarted under a new key
    run_comparisons(tiny(epochs=6), str(reference))
    assert _final_metrics(interrupted) == _final_metrics(reference)


def test_language_task_streams_contiguously_and_carries_state():
    from rnnlab.compare.tasks import LM_EVAL_ROWS, task_from_data
    from rnnlab.data.containers import LanguageModelData

    stream = torch.arange(2000) % 7 + 2
    data = LanguageModelData(stream, stream[:700], stream[:60], [str(i) for i in range(9)])
    task = task_from_data(data, {"seq_len": 20})
    assert task.make_model("lstm", 8, 1).config.carry_state
    val = task.eval_batches("val", 256)
    assert {b.x.shape for b in val} == {(LM_EVAL_ROWS, 20)}  # short last batch dropped
    for before, after in itertools.pairwise(val):  # row i goes on in the next batch
        assert torch.equal(before.y[:, -1], after.x[:, 0])
    test = task.eval_batches("test", 256)  # 60 tokens: fewer rows, still a batch
    assert test and test[0].x.shape == (2, 20)
    generator = torch.Generator().manual_seed(0)
    train = list(task.train_batches(32)(0, generator))
    assert all(b.x.shape[0] == 32 for b in train)


def test_forecast_task_batches_carry_future_covariates_without_the_estimators():
    code = (
        "import sys, numpy as np, pandas as pd, torch\n"
        "from rnnlab.compare.tasks import task_from_data\n"
        "from rnnlab.data.containers import ForecastData\n"
        "n = 120\n"
        "frame = pd.DataFrame({'time': np.arange(n), 'y': np.sin(np.arange(n) / 3),\n"
        "                      'hour': np.arange(n) % 24})\n"
        "data = ForecastData(frame[:80], frame[80:100], frame[100:], ['y'],\n"
        "                    future_covariate_columns=['hour'])\n"
        "task = task_from_data(data, {'window': 8, 'horizon': 2})\n"
        "batch = task.eval_batches('test', 4)[0]\n"
        "assert batch.future.shape == (4, 2, 1), batch.future.shape\n"
        "model = task.make_model('gru', 8, 1)\n"
        "assert torch.isfinite(model.loss(batch))\n"
        "assert not [m for m in sys.modules if m.startswith('rnnlab.estimators')]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_flops_per_step_count_every_tcn_convolution():
    from rnnlab.compare.cost import flops_per_step
    from rnnlab.nn import TCN

    tcn = TCN(3, 8, 2, kernel_size=3)
    # level 1: conv 3->8 and 8->8 plus the 1x1 downsample 3->8; level 2: two 8->8 convs
    expected = 2 * (3 * 8 * 3 + 8 * 8 * 3 + 3 * 8 + 2 * 8 * 8 * 3)
    assert flops_per_step(tcn) == expected
    grouped = torch.nn.Sequential(torch.nn.Conv1d(4, 6, 5, groups=2))
    assert flops_per_step(grouped) == 2 * 6 * 2 * 5
