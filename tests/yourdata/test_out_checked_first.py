"""`fit`, `embed` and `cluster` refuse a user's `--out` folder before any training or
reading of data, not after the work is done."""

import pytest

from rnnlab import estimators, unsupervised
from rnnlab.cli import main
from rnnlab.modelfile import MARKER_FILE, check_output_dir


def _no_work(*args, **kwargs):
    raise AssertionError("trained or read data before checking --out")


@pytest.fixture
def users_folder(tmp_path):
    folder = tmp_path / "paper"
    folder.mkdir()
    (folder / "thesis.tex").write_text("chapter 1")
    return folder


def test_check_output_dir_accepts_new_empty_and_rnnlab_folders(tmp_path, users_folder):
    from rnnlab.errors import UserInputError

    assert check_output_dir(tmp_path / "new") == tmp_path / "new"
    (tmp_path / "empty").mkdir()
    check_output_dir(tmp_path / "empty")
    (tmp_path / "ours").mkdir()
    (tmp_path / "ours" / MARKER_FILE).write_text('{"written_by": "rnnlab"}')
    check_output_dir(tmp_path / "ours")
    with pytest.raises(UserInputError, match="not an rnnlab output directory"):
        check_output_dir(users_folder)
    assert [p.name for p in users_folder.iterdir()] == ["thesis.tex"]


def test_commands_refuse_out_before_any_work(
    monkeypatch, forecast_csv, classify_csv, tmp_path, users_folder, capsys
):
    monkeypatch.setattr(estimators.Forecaster, "fit", _no_work)
    monkeypatch.setattr(estimators.Classifier, "fit", _no_work)
    monkeypatch.setattr(unsupervised.Embedder, "fit", _no_work)
    monkeypatch.setattr(unsupervised, "cluster_embed_dir", _no_work)
    fit = ["fit", "forecast", str(forecast_csv), "--target", "y", "--time", "ds"]
    fit += ["--series-id", "unique_id", "--horizon", "5", "--window", "10"]
    embed = ["embed", str(classify_csv), "--sequence-id", "sid", "--time", "t"]
    cluster = ["cluster", str(tmp_path / "emb"), "--method", "kmeans"]
    for argv in (fit, embed, cluster):
        assert main([*argv, "--out", str(users_folder)]) == 2, argv[0]
        err = capsys.readouterr().err
        assert "not an rnnlab output directory" in err and "Traceback" not in err
    assert [p.name for p in users_folder.iterdir()] == ["thesis.tex"]
