"""The benchmark library and ``rnnlab bench`` CLI: structure and honesty of the table, not speed."""

from __future__ import annotations

import json

import pytest

from rnnlab import bench
from rnnlab.cli import main

TINY = (6, 2, 3, 4)


def test_run_benchmark_rows_have_baselines_ratios_and_memory():
    variants = bench.parse_variants("lstm,mingru,gru+ln")
    report = bench.run_benchmark(variants=variants, sizes=[TINY], reps=2, warmup=1, slow_reps=1)
    rows = report.results
    engines = {(r.variant, r.engine, r.mode) for r in rows}
    assert ("lstm", "native", "train") in engines
    assert ("lstm", "loop", "forward") in engines
    assert ("mingru", "scan", "train") in engines
    assert ("gru+ln", "native", "train") not in engines  # torch has no LayerNorm GRU
    baselines = [r for r in rows if r.engine == "torch"]
    assert {r.variant for r in baselines} == {"nn.LSTM", "nn.GRU"}
    assert all(r.ratio == pytest.approx(1.0) for r in baselines)
    for r in rows:
        assert r.min_ms <= r.median_ms <= r.max_ms
        assert r.per_step_us == pytest.approx(r.median_ms * 1e3 / TINY[0])
        assert r.gflops > 0 and r.peak_fraction > 0
    trained = [r for r in rows if r.mode == "train" and r.engine != "torch"]
    assert all(r.memory_mib > 0 for r in trained)
    assert report.peak_gemm_gflops > 0


def test_parse_variants_and_sizes_name_bad_parts():
    assert bench.parse_variants("lstm+ln+rd0.3")[0] == bench.Variant(
        "lstm", layer_norm=True, recurrent_dropout=0.3
    )
    with pytest.raises(ValueError, match="unknown cell 'lsmt'"):
        bench.parse_variants("lsmt")
    with pytest.raises(ValueError, match="unknown option 'xx'"):
        bench.parse_variants("gru+xx")
    assert bench.parse_sizes("10x2x3x4") == [(10, 2, 3, 4)]
    with pytest.raises(ValueError, match="TxBxIxH"):
        bench.parse_sizes("10x2x3")


def test_quick_plan_is_a_small_subset():
    plan = bench.plan(quick=True)
    assert plan["sizes"] == bench.QUICK_SIZES
    assert len(plan["variants"]) < len(bench.VARIANTS)
    assert "reference" not in plan["engines"]


def test_cli_writes_json_and_plot(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(bench, "scaling_curves", _tiny_curves)
    out = tmp_path / "bench.json"
    png = tmp_path / "curves.png"
    code = main([
        "bench", "--sizes", "5x2x3x4", "--cells", "rnn-tanh,minlstm", "--engines", "native,scan",
        "--reps", "1", "--json", str(out), "--plot", str(png),
    ])  # fmt: skip
    assert code == 0
    data = json.loads(out.read_text())
    assert {(r["variant"], r["engine"]) for r in data["results"]} >= {
        ("rnn-tanh", "native"),
        ("minlstm", "scan"),
        ("nn.RNN(tanh)", "torch"),
    }
    assert png.stat().st_size > 1000
    markdown = bench.markdown_table(bench.load_report(out))
    assert markdown.count("\n") == len(data["results"]) + 1
    assert "| 5,2,3,4 | train | minlstm | scan |" in markdown
    assert "× torch.nn" in capsys.readouterr().out


_real_curves = bench.scaling_curves


def _tiny_curves(path, **kwargs):
    sweeps = {"T": [4, 8], "H": [2, 4], "B": [1, 2]}
    return _real_curves(path, base=(8, 2, 3, 4), sweeps=sweeps, **kwargs)


def test_cli_rejects_bad_arguments(capsys):
    assert main(["bench", "--engines", "warp"]) == 2
    assert "unknown engine" in capsys.readouterr().err
    assert main(["bench", "--sizes", "1x2"]) == 2
