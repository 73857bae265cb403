import sqlite3

import pytest

from rnnlab.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--task", "addng"], "unknown task 'addng'"),
        (["--suite", "quik"], "unknown suite 'quik'"),
        (["--task", "adding", "--models", "lstm,grux"], "unknown model 'grux'"),
        (["--task", "adding", "--params", "lots"], "parameter budget must look like"),
        (["--task", "adding", "--params", "10", "--option", "length=10"], "too small"),
        (["--task", "adding", "--option", "nonsense"], "KEY=VALUE"),
        (["--data", "missing.csv", "--kind", "forecast"], "no such file"),
        (["--task", "adding", "--workers", "0"], "--workers"),
        (["--task", "adding", "--threads", "two"], "--threads"),
        (["--task", "adding", "--address", "auto"], "--address need --executor ray"),
        (["--task", "adding", "--executor", "ray", "--gpus-per-run", "-1"], "--gpus-per-run"),
        (["--task", "adding", "--seeds", "many"], "--seeds must be"),
        (["--task", "adding", "--seeds", "auto", "--max-seeds", "2"], "--max-seeds"),
        (["--task", "adding", "--margin", "lots"], "--margin must look like"),
    ],
)
def test_bad_input_exits_2_with_a_message_and_creates_nothing(tmp_path, capsys, argv, message):
    store = tmp_path / "store"
    assert main(["compare", *argv, "--store", str(store)]) == 2
    assert message in capsys.readouterr().err
    assert not store.exists()


def test_foreign_or_corrupt_store_exits_2_untouched(tmp_path, capsys):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert main(["compare", "--task", "adding", "--store", str(foreign)]) == 2
    assert "not an rnnlab store" in capsys.readouterr().err
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]

    other = tmp_path / "other"
    other.mkdir()
    db = sqlite3.connect(other / "results.db")
    db.execute("CREATE TABLE runs (x)")
    db.commit()
    db.close()
    before = (other / "results.db").read_bytes()
    assert main(["report", str(other)]) == 2
    assert main(["compare", "--task", "adding", "--store", str(other)]) == 2
    assert (other / "results.db").read_bytes() == before


def test_compare_on_a_user_csv_end_to_end(tmp_path, capsys):
    import numpy as np
    import pandas as pd

    from rnnlab.compare.store import Store

    n = 200
    values = np.sin(np.arange(n) / 5) + np.random.default_rng(0).normal(0, 0.1, n)
    csv = tmp_path / "sales.csv"
    pd.DataFrame({"date": pd.date_range("2020-01-01", periods=n), "y": values}).to_csv(
        csv, index=False
    )
    store = tmp_path / "store"
    argv = ["compare", "--data", str(csv), "--kind", "forecast", "--option", "target=y"]
    argv += ["--option", "time_column=date", "--option", "window=10", "--models", "lstm,gru"]
    argv += ["--params", "5k", "--seeds", "1", "--epochs", "1", "--workers", "1"]
    assert main([*argv, "--store", str(store), "--no-report"]) == 0
    out = capsys.readouterr().out
    assert "user-forecast (path=sales.csv, window=10)" in out
    assert "arima" in out and "baseline" in out  # rows beside the models (names may be cut)
    rows = Store.open(store).rows()
    stored = Store.open(store).baselines("user-forecast", rows[0].config["task_options"])
    assert set(stored) == {"naive", "seasonal-naive", "arima"}  # same test windows as the models
    assert all(v["test_mse"] >= 0 for v in stored.values())
    assert {r.model for r in rows} == {"lstm", "gru"} and {r.status for r in rows} == {"done"}
    assert rows[0].config["task_options"]["loader"] == {"target": "y", "time_column": "date"}
    # re-running skips; a changed file is a different data set, so its runs get new keys
    assert main([*argv, "--store", str(store), "--no-report"]) == 0
    assert len(Store.open(store).rows()) == 2
    lines = csv.read_text().splitlines()
    lines[-1] = lines[-1].rsplit(",", 1)[0] + ",5.0"
    csv.write_text("\n".join(lines) + "\n")
    assert main([*argv, "--store", str(store), "--no-report"]) == 0
    assert len(Store.open(store).rows()) == 4


def test_compare_data_reads_local_clock_times_with_tz(tmp_path):
    import pandas as pd

    from rnnlab.cli import build_parser
    from rnnlab.commands.compare import _comparisons
    from rnnlab.compare.tasks import load_user_data
    from rnnlab.errors import UserInputError

    # Hourly local times over the autumn change in Berlin: 02:00 appears twice.
    times = pd.date_range("2024-10-26", periods=72, freq="h", tz="Europe/Berlin")
    csv = tmp_path / "load.csv"
    frame = pd.DataFrame({"date": times.tz_localize(None).astype(str), "y": range(72)})
    frame.to_csv(csv, index=False)
    argv = ["compare", "--data", str(csv), "--kind", "forecast", "--option", "target=y"]
    argv += ["--option", "time_column=date"]
    comparison = _comparisons(build_parser().parse_args([*argv, "--tz", "Europe/Berlin"]))[0]
    assert comparison.options["loader"]["timezone"] == "Europe/Berlin"
    data = load_user_data("forecast", comparison.options)  # one hourly grid in local time
    assert data.freq == "h" and str(data.train["date"].dt.tz) == "Europe/Berlin"
    without = _comparisons(build_parser().parse_args(argv))[0]
    with pytest.raises(UserInputError, match="--tz"):  # the repeated 02:00 reads as a duplicate
        load_user_data("forecast", without.options)
    assert main(["compare", "--suite", "quick", "--tz", "Europe/Berlin", "--estimate"]) == 2
