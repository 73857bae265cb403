"""The your-data commands end to end: outputs, exit codes, nothing written on failure."""

import json
import re
import shutil

import pandas as pd
import pytest
from yourdata_frames import forecast_frame

from rnnlab.cli import main

TINY = ["--hidden-size", "8", "--epochs", "2", "--device", "cpu"]


def _fit_forecast(csv, out, *extra):
    args = ["fit", "forecast", str(csv), "--target", "y", "--time", "ds"]
    args += ["--series-id", "unique_id", "--horizon", "5", "--window", "10", *TINY]
    return main([*args, "--out", str(out), *extra])


@pytest.fixture(scope="module")
def fitted_forecast(tmp_path_factory):
    """One model fitted by `rnnlab fit forecast` on the `forecast_csv` data, shared by the
    tests below (each copies it before changing it)."""
    folder = tmp_path_factory.mktemp("fitted")
    csv = folder / "sales.csv"
    forecast_frame().to_csv(csv, index=False)
    assert _fit_forecast(csv, folder / "model") == 0
    return folder / "model"


@pytest.fixture
def forecast_model(fitted_forecast, tmp_path):
    return shutil.copytree(fitted_forecast, tmp_path / "model")


def test_forecast_fit_predict_evaluate(forecast_csv, forecast_model, tmp_path, capsys):
    model = forecast_model
    assert {p.name for p in model.iterdir()} >= {"model.safetensors", "config.json", "metrics.json"}
    config = json.loads((model / "config.json").read_text())
    assert config["kind"] == "forecast" and config["state"]["columns"]["targets"] == ["y"]

    out, plot = tmp_path / "forecast.csv", tmp_path / "forecast.png"
    code = main(["predict", str(model), str(forecast_csv), "--out", str(out), "--plot", str(plot)])
    assert code == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["unique_id", "ds", "y", "y_q0.1", "y_q0.5", "y_q0.9"]
    assert len(table) == 2 * 5 and plot.stat().st_size > 1000

    report = tmp_path / "eval"
    args = ["evaluate", str(model), str(forecast_csv), "--folds", "1", "--no-refit"]
    code = main([*args, "--out", str(report)])
    assert code == 0
    printed = capsys.readouterr().out
    for method in ("gru", "naive", "seasonal-naive", "arima"):
        assert method in printed
    # A plain verdict either way: "gru beats ..." or "gru does NOT beat ...".
    assert re.search(r"gru (beats|does NOT beat) seasonal-naive m=7 on MASE", printed)
    overall = pd.read_csv(report / "overall.csv", index_col=0)
    assert {"gru", "naive", "seasonal-naive m=7", "theta (season 7)"} <= set(overall.index)
    assert any(name.startswith("arima (STL season 7") for name in overall.index)
    assert (report / "mase.png").is_file()


def test_evaluate_too_many_folds_exit_2(forecast_csv, fitted_forecast, capsys):
    args = [str(fitted_forecast), str(forecast_csv), "--folds", "50", "--no-refit"]
    code = main(["evaluate", *args])
    assert code == 2
    assert "allows at most" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--horizon", "0"], "horizon must be a positive integer"),
        (["--window", "-1"], "window must be a positive integer"),
        (["--window", "80"], "shorter than window \\+ horizon|too short"),
    ],
)
def test_bad_settings_exit_2_and_write_nothing(forecast_csv, tmp_path, capsys, extra, message):
    out = tmp_path / "model"
    assert _fit_forecast(forecast_csv, out, *extra) == 2
    assert pytest.importorskip("re").search(message, capsys.readouterr().err)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sales.csv"]


def test_classification_csv_given_to_fit_forecast(classify_csv, tmp_path, capsys):
    out = tmp_path / "model"
    args = ["fit", "forecast", str(classify_csv), "--target", "y", "--time", "ds"]
    assert main([*args, "--out", str(out), *TINY]) == 2
    err = capsys.readouterr().err
    assert "seqs.csv" in err and "not found" in err
    assert not out.exists()


def test_failed_fit_keeps_previous_model(forecast_csv, forecast_model):
    model = forecast_model
    before = (model / "model.safetensors").read_bytes()
    assert _fit_forecast(forecast_csv, model, "--horizon", "0") == 2
    assert (model / "model.safetensors").read_bytes() == before


def test_predict_errors_exit_2_and_write_nothing(forecast_csv, forecast_model, tmp_path, capsys):
    model = forecast_model
    renamed = tmp_path / "renamed.csv"
    pd.read_csv(forecast_csv).rename(columns={"y": "sales"}).to_csv(renamed, index=False)
    out = tmp_path / "forecast.csv"
    capsys.readouterr()
    assert main(["predict", str(model), str(renamed), "--out", str(out)]) == 2
    assert "missing here: y" in capsys.readouterr().err
    assert not out.exists()
    assert main(["predict", str(tmp_path / "nope"), str(forecast_csv), "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    original = (model / "config.json").read_text()
    config = json.loads(original)
    config["network"]["config"]["hidden_size"] = 9  # config no longer matches the weights
    (model / "config.json").write_text(json.dumps(config))
    assert main(["predict", str(model), str(forecast_csv), "--out", str(out)]) == 2
    assert "weights do not match the config" in capsys.readouterr().err
    config["format_version"] = 99
    (model / "config.json").write_text(json.dumps(config))
    assert main(["predict", str(model), str(forecast_csv), "--out", str(out)]) == 2
    assert "format version 99" in capsys.readouterr().err
    (model / "config.json").write_text(original)
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8])  # truncated
    assert main(["predict", str(model), str(forecast_csv), "--out", str(out)]) == 2
    assert "modified or truncated" in capsys.readouterr().err
    assert not out.exists()


def test_classify_fit_evaluate_predict(classify_csv, tmp_path, capsys):
    model = tmp_path / "clf"
    args = ["fit", "classify", str(classify_csv), "--sequence-id", "sid", "--time", "t"]
    assert main([*args, "--label", "label", *TINY, "--out", str(model)]) == 0
    # The loader's summary line is shown, not only logged (nothing dropped silently).
    assert "seqs.csv: read " in capsys.readouterr().err
    report = tmp_path / "eval"
    assert main(["evaluate", str(model), str(classify_csv), "--out", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "macro_f1" in printed and "logistic-regression" in printed
    scope = next(line for line in printed.splitlines() if line.startswith("Scored on"))
    n_seq = pd.read_csv(classify_csv)["sid"].nunique()
    assert f"of {n_seq} sequences" in scope and "used in training or validation left out" in scope
    assert (report / "confusion.png").is_file()
    # Regression: a re-sorted, re-saved copy of the training file is recognised too (it used
    # to be scored whole, training sequences included, because its bytes differed).
    shuffled = tmp_path / "shuffled.csv"
    pd.read_csv(classify_csv).sample(frac=1, random_state=0).to_csv(shuffled, index=False)
    assert main(["evaluate", str(model), str(shuffled)]) == 0
    assert scope in capsys.readouterr().out
    out = tmp_path / "labels.csv"
    assert main(["predict", str(model), str(classify_csv), "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["sid", "predicted", "p_x", "p_y", "p_z"]
    assert len(table) == pd.read_csv(classify_csv)["sid"].nunique()


def test_embed_and_cluster(classify_csv, tmp_path, capsys):
    emb = tmp_path / "emb"
    args = ["embed", str(classify_csv), "--sequence-id", "sid", "--time", "t"]
    assert main([*args, "--label", "label", *TINY, "--out", str(emb)]) == 0
    table = pd.read_csv(emb / "embeddings.csv")
    assert len(table) == 36 and "label" in table.columns and "e15" in table.columns
    clusters = tmp_path / "clusters"
    args = ["cluster", str(emb), "--method", "kmeans", "--anomalies", "3"]
    assert main([*args, "--out", str(clusters)]) == 0
    printed = capsys.readouterr().out
    assert "adjusted Rand index" in printed and "hmm:" in printed
    assignments = pd.read_csv(clusters / "clusters.csv")
    assert assignments["cluster"].nunique() == 3 and "hmm_cluster" in assignments.columns
    assert len(pd.read_csv(clusters / "anomalies.csv")) == 3
    assert main(["cluster", str(tmp_path), "--out", str(tmp_path / "c2")]) == 2


def test_bad_quantiles_are_named(forecast_csv, tmp_path, capsys):
    # Regression: argparse used to report "invalid <lambda> value".
    with pytest.raises(SystemExit) as exit_info:
        _fit_forecast(forecast_csv, tmp_path / "model", "--quantiles", "0.1,abc")
    assert exit_info.value.code == 2
    assert "expected comma-separated numbers" in capsys.readouterr().err
    assert not (tmp_path / "model").exists()


def _users_folder(tmp_path):
    folder = tmp_path / "paper"
    folder.mkdir()
    (folder / "config.json").write_text('{"mine": true}')
    (folder / "thesis.tex").write_text("chapter 1")
    return folder


def _unchanged(folder):
    return (
        sorted(p.name for p in folder.iterdir()) == ["config.json", "thesis.tex"]
        and (folder / "thesis.tex").read_text() == "chapter 1"
    )


def test_fit_embed_cluster_refuse_a_users_folder(forecast_csv, classify_csv, tmp_path, capsys):
    """`--out` naming a user's folder that happens to hold a config.json: exit 2, named,
    nothing in it changed (it was replaced whole before)."""
    folder = _users_folder(tmp_path)
    assert _fit_forecast(forecast_csv, folder) == 2
    assert f"--out {folder}" in capsys.readouterr().err and _unchanged(folder)
    emb = tmp_path / "emb"
    args = ["embed", str(classify_csv), "--sequence-id", "sid", "--time", "t", "--label", "label"]
    assert main([*args, *TINY, "--out", str(folder)]) == 2 and _unchanged(folder)
    assert "not an rnnlab output directory" in capsys.readouterr().err
    assert main([*args, *TINY, "--out", str(emb)]) == 0
    assert main(["cluster", str(emb), "--method", "kmeans", "--out", str(folder)]) == 2
    assert _unchanged(folder)
    assert "not an rnnlab output directory" in capsys.readouterr().err
