"""What a reader sees: the answer first, honest intervals, one colour per model, tables that
align and sort, progress with an ETA, clear errors."""

import io
import re

import matplotlib
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnlab.cli import main
from rnnlab.compare.intervals import NON_NEGATIVE, PROPORTION, UNBOUNDED, metric_range, range_ci
from rnnlab.compare.margins import Margin
from rnnlab.compare.stats import compare_groups
from rnnlab.report import html as html_parts
from rnnlab.report import plots
from rnnlab.report.answer import Answer, answer_for, answer_line
from rnnlab.report.palette import OKABE_ITO, model_colours
from rnnlab.report.progress import RunProgress, eta_seconds, format_duration
from rnnlab.report.summary import (
    GroupSummary,
    ModelSummary,
    format_summary,
    format_value,
    model_flags,
)

# -- intervals ---------------------------------------------------------------------------------


def test_metric_ranges_from_names():
    assert metric_range("test_accuracy") == PROPORTION
    assert metric_range("val_mse") == NON_NEGATIVE
    assert metric_range("flops_per_step") == NON_NEGATIVE
    assert metric_range("explosion_score") == NON_NEGATIVE
    assert metric_range("decay_final") == UNBOUNDED


def test_the_issue_examples_stay_in_range():
    # "MSE 0.043 ± 0.07" and accuracy intervals from -0.3 to 1.25 were shown before
    mse = range_ci([0.001, 0.002, 0.13], "test_mse")
    assert 0 < mse.low < mse.mean < mse.high
    acc = range_ci([0.2, 0.99, 0.97], "test_accuracy")
    assert 0 < acc.low < acc.mean < acc.high < 1
    plain = range_ci([0.2, 0.99, 0.97], "decay")  # unbounded: the plain t-interval
    assert plain.low < 0 and plain.high > 1


@given(
    st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=12),
    st.sampled_from(["mse", "loss", "params"]),
)
def test_non_negative_intervals_never_go_below_zero(values, metric):
    s = range_ci(values, metric)
    assert s.low >= 0 and s.low <= s.mean + 1e-9 * abs(s.mean) and s.high >= s.mean - 1e-9


@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=12))
def test_proportion_intervals_stay_in_zero_one(values):
    s = range_ci(values, "accuracy")
    assert 0 <= s.low <= s.high <= 1
    assert s.low <= s.mean + 1e-12 and s.mean <= s.high + 1e-12


def test_interval_edge_cases():
    assert range_ci([], "mse").n == 0
    one = range_ci([0.5], "mse")
    assert one.low == one.high == 0.5
    zeros = range_ci([0, 0, 0], "explosion_score")
    assert zeros.low == zeros.high == 0
    # a "non-negative" name with negative values falls back to the plain interval
    assert range_ci([-1.0, 0.5, 2.0], "loss").low < -1


# -- summaries, flags, answer line -------------------------------------------------------------


def _model(name, values, seeds=None, still_improving=0, metric="mse"):
    seeds = list(range(len(values))) if seeds is None else seeds
    return ModelSummary(
        model=name,
        values=values,
        summary=range_ci(values, metric),
        statuses={"done": len(values)},
        params=1000,
        hidden_size=8,
        num_layers=1,
        lr=1e-3,
        tune_trials=0,
        time_per_epoch_s=0.1,
        flops_per_step=4096.0,
        latency_ms=0.1,
        peak_memory_mb=300.0,
        peak_memory_kind="cpu",
        seeds=seeds,
        still_improving=still_improving,
    )


def _group(models, metric="mse", higher=False):
    verdict = compare_groups(
        {m.model: m.values for m in models}, higher, Margin(0.001, relative=False)
    )
    return GroupSummary("adding", {"length": 20}, 1000, metric, higher, models, verdict)


def test_answer_line_names_winner_difference_interval_and_seed_count():
    gru, lstm = _model("gru", [0.010, 0.011, 0.012]), _model("lstm", [0.16, 0.165, 0.17])
    answer = answer_for(_group([lstm, gru]))
    assert answer.outcome == "a better" and (answer.a, answer.b) == ("gru", "lstm")
    assert answer.diff == pytest.approx(-0.154)
    low, high = answer.diff_ci
    assert low < answer.diff < high < 0
    assert (answer.wins, answer.paired) == (3, 3)
    line = answer_line(answer)
    assert line.startswith("adding (length=20): **gru better** than lstm — mse gru − lstm = −0.15")
    assert "gru better on 3/3 seeds" in line and "Welch t-test p = " in line
    assert "margin ±0.001" in line


def test_answer_line_inconclusive_and_too_few_seeds():
    a, b = _model("gru", [0.1, 0.3]), _model("lstm", [0.2, 0.25])
    line = answer_line(answer_for(_group([a, b])))
    assert "**no winner** between gru and lstm (inconclusive)" in line
    assert "gru better on 1/2 seeds" in line
    assert "only 2 seeds: too few for a test to decide" in line


def test_answer_words_for_every_outcome_of_a_decision():
    base = {"title": "t", "metric": "mse", "higher_is_better": False, "a": "x", "b": "y"}
    assert "**y better** than x" in answer_line(Answer(outcome="b better", **base))
    assert "**x and y equivalent**" in answer_line(Answer(outcome="equivalent", **base))
    assert "**no comparison**" in answer_line(Answer("t", "mse", False, "inconclusive", None, None))


def test_flags_for_few_seeds_and_not_converged():
    model = _model("gru", [0.1, 0.2], still_improving=2)
    assert model_flags(model, short=True) == ["only 2 seeds", "not converged 2/2"]
    long = model_flags(model)
    assert long[1] == "not converged: validation still improving at the last epoch on 2/2 seeds"
    assert model_flags(_model("gru", [0.1, 0.2, 0.3])) == []


def test_numbers_keep_significant_digits_and_true_minus():
    assert format_value(3520.0, 3) == "3,520"
    assert format_value(40957.0, 3) == "41,000"
    assert format_value(-0.0123, 2) == "−0.012"
    assert format_value(float("nan")) == "–"
    assert format_summary(range_ci([0.1, 0.2, 0.3], "mse")).startswith("0.2 [")


# -- colours -----------------------------------------------------------------------------------


def test_colours_are_fixed_for_known_models_and_distinct_within_a_report():
    one = model_colours(["gru", "lstm"])
    two = model_colours(["lstm", "tcn", "gru", "mingru", "indrnn"])
    assert one["lstm"] == two["lstm"] == OKABE_ITO[0] and one["gru"] == two["gru"]
    assert len(set(two.values())) == len(two)
    assert set(two.values()) <= set(OKABE_ITO)


def test_every_plot_of_a_report_uses_the_shared_colour_map(monkeypatch):
    """The seed-dot, learning-curve, length and timing figures draw each model in its colour."""
    lstm, gru = _model("lstm", [0.5, 0.6, 0.7]), _model("gru", [0.1, 0.2, 0.3])
    for m in (lstm, gru):
        m.curves = [{"val_mse": [1.0, 0.5, 0.4]}] * 3
    group = _group([gru, lstm])
    longer = _group([gru, lstm])
    longer.options = {"length": 40}
    colours = model_colours(["lstm", "gru"])
    figures: list[tuple[set[str], dict[str, str]]] = []
    real_png = plots.png

    def hexes(artist) -> list[str]:
        if isinstance(artist, matplotlib.lines.Line2D):
            return [matplotlib.colors.to_hex(artist.get_color())]
        faces = np.atleast_2d(artist.get_facecolor())
        return [matplotlib.colors.to_hex(c) for c in faces if len(c) and c[-1] > 0]

    def spy(figure):
        used, labelled = set(), {}
        for axis in figure.axes:
            for artist in [*axis.lines, *axis.collections, *axis.patches]:
                for colour in hexes(artist):
                    used.add(colour)
                    if not artist.get_label().startswith("_"):
                        labelled[artist.get_label().split(" ")[0]] = colour
        figures.append((used, labelled))
        return real_png(figure)

    monkeypatch.setattr(plots, "png", spy)
    assert plots.learning_curves(group, colours)
    assert plots.seed_values(group, colours)
    assert plots.metric_vs_length([group, longer], "adding", colours)
    assert plots.time_per_epoch([group], colours)
    shared = {c.lower() for c in colours.values()}
    frame = {"#ffffff", plots.CHANCE.lower()}  # axes background, chance lines
    for used, labelled in figures:
        assert used - frame == shared
        for model in ("lstm", "gru"):
            if model in labelled:
                assert labelled[model] == colours[model].lower()


# -- HTML --------------------------------------------------------------------------------------


def test_tables_align_numbers_right_scroll_and_sort():
    table = html_parts.table(
        ["model", "mse", "notes"], [["lstm", "0.5 [0.1, 0.9]", "x" * 40], ["gru", "1,941", "–"]]
    )
    assert table.startswith('<div class="wide"><table class="sortable">')
    assert "<th class=num>mse</th>" in table and "<td class=num>1,941</td>" in table
    assert "<td class=short>lstm</td>" in table  # short text never wraps
    assert "<td>" + "x" * 40 in table  # long text may
    page = html_parts.page("t", [table])
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "table.sortable th" in page and "<script src" not in page


def test_figures_are_shown_at_half_their_pixels():
    group = _group([_model("gru", [0.1, 0.2, 0.3])])
    png = plots.seed_values(group, model_colours(["gru"]))
    width, _ = html_parts.png_size(png)
    assert f'width="{round(width / 2)}"' in html_parts.figure(png, "c")


# -- progress ----------------------------------------------------------------------------------


def test_eta_from_trained_runs_and_the_plan():
    assert eta_seconds(30.0, 3, 6) == pytest.approx(60.0)  # 10 s a run, 6 left
    assert eta_seconds(30.0, 3, 6, since_last_s=15.0) == pytest.approx(45.0)  # counts down
    assert eta_seconds(30.0, 3, 1, since_last_s=60.0) == 0.0  # never negative
    assert eta_seconds(5.0, 0, 4) is None  # unknown before a run has trained
    assert eta_seconds(5.0, 0, 0) == 0.0
    assert format_duration(None) == "?"
    assert format_duration(65) == "1:05" and format_duration(3909) == "1:05:09"


def test_a_weighted_plan_gives_the_eta_in_work_not_in_runs():
    from rich.console import Console

    from rnnlab.bench import QUICK_VARIANTS, group_flops

    def _group_cost(size, mode):
        return group_flops(QUICK_VARIANTS, size, mode)

    console = Console(file=io.StringIO(), force_terminal=False)
    with RunProgress(console, phases=("timing",)) as progress:
        progress.plan(3, work=111.0)  # a cheap group (1), then two dear ones (10, 100)
        progress.finished("cheap", work=1.0)
        fields = progress._progress.tasks[0].fields
        assert fields["work_trained"] == 1.0 and fields["work_left"] == 110.0
        # 2 s for the cheap group: the ETA is 220 s, not the 4 s two more runs would take.
        assert eta_seconds(2.0, fields["work_trained"], fields["work_left"]) == 220.0
        progress.plan(2)  # unweighted: one unit per run, as before
        progress.finished("one", trained=False)
        assert progress._progress.tasks[0].fields["work_left"] == 1.0
    assert _group_cost((100, 64, 64, 128), "train") == 3 * _group_cost(
        (100, 64, 64, 128), "forward"
    )
    assert _group_cost((100, 64, 64, 256), "forward") > 2 * _group_cost(
        (100, 64, 64, 128), "forward"
    )


def test_the_bar_shows_the_runs_going_now_from_the_store(tmp_path):
    """Runs in worker processes tell the parent nothing when they start; the store does."""
    from io import StringIO

    from rich.console import Console

    from rnnlab.compare.store import Store

    store = Store.open(tmp_path)
    store.claim("k1", phase="final", seed=2, task="copy", model="gru", config={})
    console = Console(file=StringIO(), width=160, force_terminal=False)
    with RunProgress(console, workers=2, store=str(tmp_path)) as progress:
        progress.plan(4)
        progress.finished("copy lstm seed 1 done")
        progress._progress.refresh()
    shown = console.file.getvalue()
    assert "now: copy gru seed 2" in shown and "last: copy lstm seed 1 done" in shown


# -- errors and help ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["compare", "--task", "adding", "--store", "{file}"],
        ["claims", "--report-only", "--store", "{file}"],
    ],
)
def test_a_store_that_is_a_file_is_named_as_such(tmp_path, capsys, argv):
    file = tmp_path / "results.txt"
    file.write_text("mine")
    assert main([a.format(file=file) for a in argv]) == 2
    assert f"{file} is a file, not a directory" in capsys.readouterr().err
    assert file.read_text() == "mine"


def test_claims_rejects_bad_claim_numbers_before_any_progress(tmp_path, capsys):
    assert main(["claims", "--claims", "1,12", "--store", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "claims are numbered 1 to 9, got [12]" in err and "ETA" not in err
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("command", ["compare", "claims"])
def test_help_prints_a_single_percent_sign(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    assert "95 %" in out and "%%" not in out


def test_fit_suggests_the_close_model_and_lists_every_compare_model(tmp_path, capsys):
    from rnnlab.compare.plan import check_models  # noqa: F401  (the list compare accepts)
    from rnnlab.models import encoder_names

    data = tmp_path / "s.csv"
    data.write_text("time,y\n" + "".join(f"2024-01-{d:02d},{d}\n" for d in range(1, 29)))
    argv = ["fit", "forecast", str(data), "--target", "y", "--time", "time", "--model", "lstn"]
    assert main([*argv, "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "Did you mean 'lstm'?" in err
    assert all(re.search(rf"\b{re.escape(name)}\b", err) for name in ["rnn", *encoder_names()])
    assert not (tmp_path / "m").exists()


def test_every_verdict_kind_has_its_own_colour():
    from rnnlab.diagnose.verdicts import VERDICT_KINDS
    from rnnlab.report.claims_page import VERDICT_STYLES, verdict_class

    kinds = [*VERDICT_KINDS, "equivalent within ±0.01", "inconclusive"]
    classes = {kind: verdict_class(kind) for kind in kinds}
    assert classes["supported"] == "supported" and classes["refuted"] == "refuted"
    assert classes["equivalent within ±0.01"] == "equivalent"
    assert classes["depends on the task"] == "depends"
    # one colour per kind ("equivalent within ±0.01" is the kind "equivalent")
    assert len(set(classes.values())) == len(set(VERDICT_KINDS))
    assert len({VERDICT_STYLES[c] for c in classes.values()}) == len(set(VERDICT_KINDS))


def test_bench_table_stays_readable_in_80_columns():
    from rich.console import Console

    from rnnlab import bench

    def case(variant, engine, path=None):
        return bench.CaseResult(
            variant, engine, (100, 64, 64, 128), "forward", 138.1, 114.7, 161.4, 150.0, 1381.0,
            0.05, "nn.LSTM", 9.1, 0.32, 19.0, 3, None, path,
        )  # fmt: skip

    report = bench.BenchReport("cpu", 2, "2.x", "x86_64", 28.0, "profiler")
    report.results = [case("nn.LSTM", "torch"), case("lstm", "loop", "cpp")]
    narrow = Console(width=80, record=True)
    narrow.print(bench.results_table(report, width=80))
    text = narrow.export_text()
    assert "…" not in text and "loop" in text and "138.1" in text and "0.05" in text
    assert all(len(line) <= 80 for line in text.splitlines())
    header = next(line for line in text.splitlines() if "T,B,I,H" in line)
    assert "GFLOP/s" not in header  # dropped here, kept in --json and --markdown
    wide = Console(width=200, record=True)
    wide.print(bench.results_table(report, width=200))
    assert "GFLOP/s" in wide.export_text()
