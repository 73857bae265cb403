"""The benchmark library and ``rnnlab bench`` CLI: structure and honesty of the report, never
speed."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import statistics
from pathlib import Path

import pytest
import torch

from rnnlab import bench
from rnnlab.cli import main
from rnnlab.nn.cells import CELLS
from rnnlab.nn.engines import ENGINES, NO_MASKS
from rnnlab.nn.kernels import extension

TINY = (6, 2, 3, 4)
TINY_SWEEPS = (
    bench.Sweep("T", (8, 2, 3, 4), (4, 8)),
    bench.Sweep("H", (8, 2, 3, 4), (2, 4)),
    bench.Sweep("B", (8, 2, 3, 4), (1, 2)),
)
TINY_CURVES = (("lstm", "native"), ("lstm", "loop"), ("gru+ln", "loop"), ("mingru", "scan"))


@pytest.fixture(scope="module")
def report() -> bench.BenchReport:
    variants = bench.parse_variants("lstm,mingru,gru+ln")
    return bench.run_benchmark(variants=variants, sizes=[TINY], reps=3, warmup=1, slow_reps=1)


def test_rows_have_baselines_ratios_and_memory(report):
    rows = report.results
    engines = {(r.variant, r.engine, r.mode) for r in rows}
    assert ("lstm", "native", "train") in engines
    assert ("lstm", "loop", "forward") in engines
    assert ("mingru", "scan", "train") in engines
    assert ("gru+ln", "native", "train") not in engines  # torch has no LayerNorm GRU
    baselines = [r for r in rows if r.engine == "torch"]
    assert {r.variant for r in baselines} == {"nn.LSTM", "nn.GRU"}
    for r in rows:
        assert r.min_ms <= r.median_ms <= r.max_ms
        assert r.per_step_us == pytest.approx(r.median_ms * 1e3 / TINY[0])
        assert r.gflops > 0 and r.peak_fraction == pytest.approx(r.gflops / report.peak_gemm_gflops)
        assert r.memory_mib > 0  # every call allocates at least its output
        paths = {"loop": ("cpp", "fused", "generic"), "scan": ("cpp", "chunked")}
        assert r.path in paths[r.engine] if r.engine in paths else r.path is None
        assert (r.saved_mib is None) == (r.mode == "forward")
    assert all(r.saved_mib > 0 for r in rows if r.mode == "train")
    lstm_loop = {r.path for r in rows if (r.variant, r.engine) == ("lstm", "loop")}
    assert lstm_loop == {"cpp" if extension.status("lstm").available else "fused"}
    assert report.peak_gemm_gflops > 0 and report.schema == bench.SCHEMA
    assert report.cpus == os.cpu_count() and len(report.load_average) == 2


def test_every_ratio_is_recomputable_from_the_samples_in_the_json(tmp_path, report):
    report.to_json(tmp_path / "b.json")
    for row in json.loads((tmp_path / "b.json").read_text())["results"]:
        case, base = row["samples_ms"], row["baseline_samples_ms"]
        assert len(case) == len(base) == row["reps"] == (1 if row["engine"] == "reference" else 3)
        assert row["median_ms"] == pytest.approx(statistics.median(case))
        pairs = [c / b for c, b in zip(case, base, strict=True)]
        assert row["ratio"] == pytest.approx(statistics.median(pairs))
        assert row["ratio_low"] <= row["ratio"] <= row["ratio_high"]
        assert min(pairs) <= row["ratio_low"] and row["ratio_high"] <= max(pairs)


def test_controls_set_the_noise_floor_and_every_case_gets_a_verdict(report):
    for mode in bench.MODES:
        rows = [r for r in report.results if r.mode == mode]
        controls = [r for r in rows if r.control]
        # torch.nn against itself for each family, and the native engine against torch.nn
        assert {(r.variant, r.engine) for r in controls} == {
            ("nn.LSTM", "torch"), ("nn.GRU", "torch"), ("lstm", "native"),
        }  # fmt: skip
        floor = bench.noise_floor(bench.Ratio(r.ratio, r.ratio_low, r.ratio_high) for r in controls)
        assert floor is not None and floor >= 0
        assert all(r.noise_floor == floor for r in rows)
        assert all(r.verdict == "control" for r in controls)
        for r in rows:
            if not r.control:
                ratio = bench.Ratio(r.ratio, r.ratio_low, r.ratio_high)
                assert r.verdict == bench.verdict(ratio, floor)
    assert any(
        "noise floor at 6,2,3,4 train: ±" in line for line in bench.noise_floor_lines(report)
    )
    assert "noise floor at 6,2,3,4 forward" in bench.markdown_table(report)


def test_gru_cells_are_also_compared_with_lstm_per_flop(report):
    for r in report.results:
        per_flop = r.baseline == "nn.GRU" and r.variant in ("nn.GRU", "gru+ln")
        assert (r.lstm_flop_ratio is not None) == per_flop, (r.variant, r.engine)
        if per_flop:
            scale = CELLS["lstm"].flops_per_step(3, 4) / CELLS["gru"].flops_per_step(3, 4)
            pairs = [
                scale * c / lstm for c, lstm in zip(r.samples_ms, r.lstm_samples_ms, strict=True)
            ]
            assert r.lstm_flop_ratio == pytest.approx(statistics.median(pairs))
            assert r.lstm_flop_low <= r.lstm_flop_ratio <= r.lstm_flop_high


def test_the_engine_auto_runs_is_marked_once_per_cell_and_mode(report):
    cpp = extension.status("lstm").available
    expected = {
        ("lstm", "train"): "loop" if cpp else "native",
        ("lstm", "forward"): "native",  # oneDNN's LSTM inference is as fast
        ("mingru", "train"): "scan",
        ("mingru", "forward"): "scan",
        ("gru+ln", "train"): "loop",
        ("gru+ln", "forward"): "loop",
    }
    marked = {(r.variant, r.mode): r.engine for r in report.results if r.auto}
    assert marked == expected
    assert sum(r.auto for r in report.results) == len(expected)
    assert "| forward | lstm | native (auto) |" in bench.markdown_table(report)


def test_paired_ratio_noise_floor_and_verdict_on_known_inputs():
    ratio = bench.paired_ratio([2.0, 4.0, 6.0, 8.0, 10.0], [4.0, 4.0, 4.0, 4.0, 4.0])
    assert ratio.median == 1.5  # median of 0.5, 1, 1.5, 2, 2.5
    assert 0.5 <= ratio.low < 1.5 < ratio.high <= 2.5
    assert bench.paired_ratio([3.0, 3.0], [2.0, 4.0]) == bench.Ratio(1.125, 0.75, 1.5)  # min-max
    with pytest.raises(ValueError, match="equally many"):
        bench.paired_ratio([1.0], [1.0, 2.0])
    floor = bench.noise_floor([bench.Ratio(1.0, 0.9, 1.05), bench.Ratio(1.0, 0.98, 1.2)])
    assert floor == pytest.approx(0.2)  # the widest reach: 1.2 (0.9 reaches 1/0.9 = 1.11)
    assert bench.noise_floor([]) is None
    assert bench.verdict(bench.Ratio(0.7, 0.6, 0.8), floor) == "faster"  # 0.8 < 1/1.2
    assert bench.verdict(bench.Ratio(0.8, 0.7, 0.9), floor) == "parity"  # 0.9 > 1/1.2
    assert bench.verdict(bench.Ratio(1.5, 1.3, 1.7), floor) == "slower"
    assert bench.verdict(bench.Ratio(1.1, 1.05, 1.15), floor) == "parity"
    assert bench.verdict(bench.Ratio(1.1, 1.05, 1.15), None) == "slower"


def test_interleaved_rounds_shuffle_the_order_and_keep_pairs():
    order: list[str] = []
    calls = [lambda: order.append("a"), lambda: order.append("b"), lambda: order.append("c")]
    times = bench.time_interleaved(
        calls, torch.device("cpu"), reps=30, warmup=1, rng=random.Random(0)
    )
    assert [len(t) for t in times] == [30, 30, 30]
    rounds = [order[i : i + 3] for i in range(3, len(order), 3)]  # after the warm-up round
    assert all(sorted(r) == ["a", "b", "c"] for r in rounds)  # one call of each per round
    assert {r[0] for r in rounds} == {"a", "b", "c"}  # each runs first in some round
    assert len({tuple(r) for r in rounds}) > 3


def test_a_busy_machine_is_flagged(report):
    busy = dataclasses.replace(report, cpus=2, load_average=[1.5, 5.25])
    assert "load average reached 5.2 on 2 CPUs" in bench.busy_warning(busy)
    assert "load average reached 5.2" in bench.markdown_table(busy)
    assert "load average 1.5 → 5.2 on 2 CPUs" in bench.markdown_table(busy)
    assert bench.busy_warning(dataclasses.replace(busy, load_average=[0.4, 1.9])) is None
    assert bench.busy_warning(dataclasses.replace(busy, load_average=None)) is None


def test_warm_up_lists_the_loop_engines_libraries_as_extension_status_says(report):
    families = bench.extension_families(bench.parse_variants("lstm,mingru,gru+ln"), None, "cpu")
    assert [w.family for w in report.extensions] == families
    assert "lstm" in families and "lstm" in extension.FAMILIES
    for warm in report.extensions:
        status = extension.status(warm.family)
        assert (warm.available, warm.seconds, warm.built, warm.reason, warm.directory) == (
            status.available,
            status.seconds,
            status.built,
            status.reason,
            status.directory,
        )
        assert warm.seconds >= 0 and (warm.reason is None) == warm.available
        assert warm.unchanged_after_run is True


@pytest.mark.skipif(extension.ops("rnn") is None, reason="C++ kernels not built")
def test_peak_memory_counts_the_buffers_of_the_kernels_block_cache():
    from rnnlab.nn.kernels.rnn_cpp import rnn_family_sequence

    xp, weight = torch.randn(600, 8, 64), torch.randn(64, 64) * 0.1
    with torch.no_grad():
        peak = bench.cpu_peak_mib(lambda: rnn_family_sequence(xp, torch.zeros(8, 64), weight))
    assert peak >= 601 * 8 * 64 * 4 / 2**20  # the states it returns, at least


def test_no_library_is_warmed_up_when_no_cpp_engine_is_used():
    lstm = bench.parse_variants("lstm,lstm-cifg")
    assert bench.extension_families(lstm, ["native", "scan"], "cpu") == []
    assert bench.extension_families(lstm, None, "cuda") == []
    assert bench.extension_families(bench.parse_variants("mingru"), ["scan"], "cpu") == ["minrnn"]
    assert bench.extension_families(lstm, ["loop"], "cpu") == ["lstm"]


def test_an_unavailable_library_is_reported_with_its_reason(monkeypatch):
    missing = extension.ExtensionStatus(False, 0.0, False, "not found on PATH: c++", "")
    monkeypatch.setattr(extension, "status", lambda family: missing)
    (warm,) = bench.warm_up_extensions(["lstm"])
    assert not warm.available and warm.reason == "not found on PATH: c++"
    cells = dict(zip(bench.WARMUP_COLUMNS, bench.warmup_cells(warm), strict=True))
    assert cells["available"] == "no" and cells["reason"] == "not found on PATH: c++"


def test_a_reload_during_the_run_is_caught(monkeypatch):
    warmups = bench.warm_up_extensions(["lstm"])
    with bench.libraries_unchanged(warmups):
        pass
    assert warmups[0].unchanged_after_run is True
    with bench.libraries_unchanged(warmups):  # a fresh status object = loaded again
        monkeypatch.setattr(extension, "_statuses", {})
    assert warmups[0].unchanged_after_run is False


@pytest.mark.skipif(not extension.status("lstm").available, reason="no C++ lstm library here")
def test_new_lengths_and_batches_do_not_rebuild_the_library():
    spec = CELLS["lstm"]
    status = extension.status("lstm")
    library = Path(status.directory) / "rnnlab_lstm.so"
    mtime = library.stat().st_mtime_ns
    for steps, batch in ((5, 3), (17, 8)):
        params = {k: torch.randn(s) * 0.3 for k, s in spec.param_shapes(3, 4).items()}
        state = tuple(torch.zeros(batch, s) for s in spec.state_sizes(4))
        x = torch.randn(steps, batch, 3)
        ENGINES["loop"](spec, x, state, params, lengths=None, reverse=False, masks=NO_MASKS)
        assert extension.status("lstm") is status
        assert library.stat().st_mtime_ns == mtime


def test_default_variants_cover_every_target_of_issue_7():
    names = {v.name for v in bench.plan()["variants"]}
    assert names == {
        "lstm", "lstm-peephole", "lstm-cifg", "lstm+ln", "lstm+rd0.25", "lstm+zo0.1",
        "gru", "gru-cho", "gru+ln", "gru+rd0.25", "gru+zo0.1",
        "rnn-tanh", "rnn-relu", "indrnn", "mingru", "minlstm",
    }  # fmt: skip


def test_parse_variants_and_sizes_name_bad_parts():
    assert bench.parse_variants("lstm+ln+rd0.3")[0] == bench.Variant(
        "lstm", layer_norm=True, recurrent_dropout=0.3
    )
    assert bench.parse_variants("gru+zo")[0] == bench.Variant("gru", zoneout=0.1)
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


def test_scaling_curves_write_a_png_and_keep_every_point(tmp_path, report):
    png = tmp_path / "curves.png"
    curves, warmups = bench.scaling_curves(png, reps=2, sweeps=TINY_SWEEPS, curves=TINY_CURVES)
    assert png.stat().st_size > 10_000
    assert len(curves.points) == len(TINY_CURVES) * sum(len(s.values) for s in TINY_SWEEPS)
    assert {p.curve for p in curves.points} == {"lstm/native", "lstm/loop", "gru+ln/loop",
                                                "mingru/scan"}  # fmt: skip
    for sweep in TINY_SWEEPS:
        sizes = [p.size for p in curves.points if p.axis == sweep.axis and p.curve == "lstm/loop"]
        assert sizes == sweep.sizes()
    assert all(p.min_ms <= p.median_ms <= p.max_ms for p in curves.points)
    assert [w.family for w in warmups] == sorted(
        {*bench.extension_families(bench.parse_variants("lstm,gru+ln"), ["loop"], "cpu"),
         *bench.extension_families(bench.parse_variants("mingru"), ["scan"], "cpu")}
    )  # fmt: skip
    families = [w.family for w in report.extensions]
    report.add_scaling(curves, warmups)
    assert [w.family for w in report.extensions] == families + [  # none listed twice
        w.family for w in warmups if w.family not in families
    ]

    again = tmp_path / "again.png"
    bench.draw_scaling(curves, again)  # redrawn from the points alone, as from a JSON file
    assert again.stat().st_size > 10_000

    markdown = bench.markdown_table(report, link_from=tmp_path)
    assert "![time vs T, H and B, forward+backward](curves.png)" in markdown
    assert "| mingru/scan |" in markdown and "| T=4 | T=8 |" in markdown
    nested = bench.markdown_table(report, link_from=tmp_path / "docs")
    assert "](../curves.png)" in nested


def test_json_round_trip_keeps_everything(tmp_path, report):
    point = bench.ScalingPoint("lstm/loop", "T", (8, 2, 3, 4), 2.0, 1.5, 2.5)
    report = dataclasses.replace(report, scaling=bench.ScalingCurves("c.png", 3, [point]))
    path = tmp_path / "bench.json"
    report.to_json(path)
    loaded = bench.load_report(path)
    assert loaded == report and loaded.extensions and loaded.scaling.points[0].size == (8, 2, 3, 4)
    assert bench.markdown_table(loaded) == bench.markdown_table(report)


def test_schema_1_files_still_load(tmp_path):
    row = {
        "variant": "lstm", "engine": "loop", "size": [100, 64, 64, 128], "mode": "train",
        "median_ms": 50.0, "min_ms": 45.0, "max_ms": 60.0, "first_ms": 70.0,
        "per_step_us": 500.0, "ratio": 1.3, "baseline": "nn.LSTM", "gflops": 30.0,
        "peak_fraction": 0.25, "memory_mib": 23.9, "reps": 5,
    }  # fmt: skip
    old = {
        "device": "cpu", "threads": 2, "torch_version": "2.13.0+cpu", "machine": "x86_64",
        "peak_gemm_gflops": 120.0,
        "memory_measure": "bytes saved by autograd for backward (MiB); 0 for forward",
        "results": [row, {**row, "mode": "forward", "memory_mib": 0.0}],
    }  # fmt: skip
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    loaded = bench.load_report(path)
    assert loaded.schema == 1 and loaded.extensions == [] and loaded.scaling is None
    train, forward = loaded.results
    assert train.size == (100, 64, 64, 128)
    assert (train.saved_mib, train.memory_mib) == (23.9, 0.0)  # schema 1 had no CPU peak
    assert forward.saved_mib is None
    markdown = bench.markdown_table(loaded)
    assert "schema 1 file: no warm-up recorded" in markdown
    assert "| 100,64,64,128 | train | lstm | loop | 50.0 | 45.0–60.0 |" in markdown


def test_cli_writes_json_markdown_and_plot(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(bench, "scaling_curves", _tiny_curves)
    out, png, md = tmp_path / "bench.json", tmp_path / "curves.png", tmp_path / "bench.md"
    code = main([
        "bench", "--sizes", "5x2x3x4", "--cells", "rnn-tanh,minlstm,lstm-cifg",
        "--engines", "native,scan,loop", "--modes", "train", "--reps", "1",
        "--json", str(out), "--plot", str(png), "--markdown", str(md),
    ])  # fmt: skip
    assert code == 0
    data = json.loads(out.read_text())
    assert {(r["variant"], r["engine"]) for r in data["results"]} >= {
        ("rnn-tanh", "native"),
        ("minlstm", "scan"),
        ("lstm-cifg", "loop"),
        ("nn.RNN(tanh)", "torch"),
    }
    assert data["schema"] == bench.SCHEMA
    needed = bench.extension_families(
        bench.parse_variants("rnn-tanh,minlstm,lstm-cifg"), ["native", "scan", "loop"], "cpu"
    )
    families = [w["family"] for w in data["extensions"]]  # the table's, then the curves' new ones
    assert {"lstm", "rnn", "minrnn"} <= set(needed) and families[: len(needed)] == needed
    assert len(set(families)) == len(families)
    assert data["scaling"]["png"] == str(png) and data["scaling"]["points"]
    assert png.stat().st_size > 10_000
    markdown = md.read_text()
    assert "](curves.png)" in markdown
    assert "| 5,2,3,4 | train | minlstm | scan-" in markdown
    assert markdown == bench.markdown_table(bench.load_report(out), link_from=tmp_path) + "\n"
    printed = capsys.readouterr().out
    assert "× torch.nn" in printed and "C++ kernel warm-up" in printed
    assert "forward+backward vs T" in printed


def test_cli_says_when_no_library_is_needed(capsys):
    code = main(["bench", "--sizes", "5x2x3x4", "--cells", "mingru", "--engines", "native,loop",
                 "--modes", "forward", "--reps", "1"])  # fmt: skip
    assert code == 0
    assert "No C++ kernel library used in this run" in capsys.readouterr().out


def _tiny_curves(path, **kwargs):
    kwargs.update(sweeps=TINY_SWEEPS, curves=TINY_CURVES)
    return _real_curves(path, **kwargs)


_real_curves = bench.scaling_curves


def test_cli_rejects_bad_arguments(capsys):
    assert main(["bench", "--engines", "warp"]) == 2
    assert "unknown engine" in capsys.readouterr().err
    assert main(["bench", "--sizes", "1x2"]) == 2


def test_cpu_peak_memory_is_the_peak_of_live_allocations():
    mib = 2**18  # float32 elements in one MiB

    def held() -> None:
        blocks = [torch.empty(mib) for _ in range(3)]  # all three alive at once
        del blocks

    def one_at_a_time() -> None:
        for _ in range(3):
            torch.empty(mib)  # freed before the next

    before = os.fstat(2)
    assert bench.cpu_peak_mib(held) == pytest.approx(3.0, abs=0.05)
    assert bench.cpu_peak_mib(one_at_a_time) == pytest.approx(1.0, abs=0.05)
    after = os.fstat(2)  # the profiler's log was silenced, and stderr put back
    assert (before.st_dev, before.st_ino) == (after.st_dev, after.st_ino)
