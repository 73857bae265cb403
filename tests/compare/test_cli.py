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
