import base64
import dataclasses
import math
import re

import pytest
from PIL import Image

from rnnlab.cli import main
from rnnlab.compare.store import Store
from rnnlab.report import build_report, summarize
from rnnlab.report.published import published_for


def _add(
    store,
    key,
    *,
    task,
    model,
    seed,
    status,
    value=None,
    options=None,
    params=1000,
    phase="final",
    lr=1e-3,
    metric="mse",
    versions=None,
    cost=None,
):
    options = options or {"length": 50}
    config = {
        "task": task,
        "model": model,
        "hidden_size": 8,
        "num_layers": 1,
        "task_options": options,
        "train": {"lr": lr},
        "budget": 1000,
    }
    store.claim(key, phase=phase, seed=seed, task=task, model=model, config=config)
    if status == "running":
        return
    metrics = {} if value is None else {f"test_{metric}": value, f"val_{metric}": value}
    curves = {"epoch": [1, 2, 3], f"val_{metric}": [value or 1.0, (value or 1.0) * 0.9, value or 1]}
    store.finish(
        key,
        status=status,
        metrics=metrics if status == "done" else {},
        curves=curves if status == "done" else {},
        cost={
            "params": params,
            "time_per_epoch_s": 0.5,
            "flops_per_step": 100.0,
            "latency_ms_per_seq": 0.1,
            "peak_memory_mb": 300.0,
            "peak_memory_kind": "cpu",
            **(cost or {}),
        },
        versions=versions or {"torch": "x"},
        error="loss or gradient norm became NaN/Inf at step 7" if status == "diverged" else None,
    )


@pytest.fixture(scope="module")
def synthetic_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    store = Store.open(root)
    for length in (50, 100):
        opts = {"length": length}
        for seed, value in enumerate([0.010, 0.011, 0.012]):
            _add(
                store,
                f"g{length}{seed}",
                task="adding",
                model="gru",
                seed=seed,
                status="done",
                value=value * length / 50,
                options=opts,
            )
        for seed, value in enumerate([0.160, 0.165, 0.170]):
            _add(
                store,
                f"l{length}{seed}",
                task="adding",
                model="lstm",
                seed=seed,
                status="done",
                value=value,
                options=opts,
                params=1010,
            )
    _add(store, "r0", task="adding", model="rnn", seed=0, status="diverged")
    _add(store, "r1", task="adding", model="rnn", seed=1, status="failed")
    _add(
        store,
        "t0",
        task="adding",
        model="gru",
        seed=10000,
        status="done",
        value=0.5,
        phase="tune",
        lr=1e-2,
    )
    for seed, (a, b) in enumerate([(0.80, 0.70), (0.60, 0.90), (0.75, 0.72)]):
        _add(
            store,
            f"jv-l{seed}",
            task="japanese-vowels",
            model="lstm",
            seed=seed,
            status="done",
            value=a,
            options={"limit": None},
            metric="accuracy",
        )
        _add(
            store,
            f"jv-g{seed}",
            task="japanese-vowels",
            model="gru",
            seed=seed,
            status="done",
            value=b,
            options={"limit": None},
            metric="accuracy",
        )
    store.close()
    return root


@pytest.fixture(scope="module")
def built(synthetic_store):
    return build_report(synthetic_store)


def test_summary_statistics_and_verdicts(synthetic_store):
    groups = {g.title: g for g in summarize(Store.open(synthetic_store).rows())}
    adding = groups["adding (length=50)"]
    gru = next(m for m in adding.models if m.model == "gru")
    assert gru.summary.mean == pytest.approx(0.011) and gru.summary.n == 3
    assert gru.tune_trials == 1
    assert adding.verdict.winner == "gru" and adding.verdict.p_value < 0.05
    rnn = next(m for m in adding.models if m.model == "rnn")
    assert rnn.summary.n == 0 and rnn.statuses == {"diverged": 1, "failed": 1}
    vowels = groups["japanese-vowels"]
    assert vowels.higher_is_better and vowels.verdict.winner is None


def test_report_files_are_complete_and_self_contained(synthetic_store, built):
    files = built
    md = files.markdown.read_text()
    page = files.html.read_text()
    assert "## adding (length=50)" in md and "## japanese-vowels" in md
    first = md.splitlines()[2]  # the answer comes first, right under the title
    assert first.startswith("- adding (length=50): **gru better** than lstm — mse gru − lstm = ")
    assert "gru better on 3/3 seeds" in first
    assert "japanese-vowels: **no winner** between gru and lstm (inconclusive)" in md
    assert "Test detail: gru better (gru − lstm = " in md and "margin ±" in md
    assert "Holm-adjusted over the 3 comparisons" in md
    answer = page.index('<div class="answer">')  # the first screen: the answer, then details
    assert answer < page.index("<table") and answer < page.index("<img")
    assert page.index("gru better</strong>") < page.index("<table")
    assert "1,010" in md  # exact parameter counts
    assert "diverged" in md and "NaN/Inf at step 7" in md and "failed" in md
    assert "**Published** — Bai, Kolter & Koltun 2018" in md  # labelled, in its own table
    assert "Metric vs sequence length" in md
    assert "Chance level (trivial strategy): 0.1667" in md  # adding: Var(U1 + U2) = 1/6
    for name in re.findall(r"\]\((report_files/[^)]+)\)", md):
        with Image.open(synthetic_store / name) as image:
            assert image.width < 1500  # sane figures (a legend bug once made them 16000 wide)
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == md.count("![")
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert "http://" not in page and "https://" not in page


def test_published_numbers_never_enter_our_results(synthetic_store):
    groups = summarize(Store.open(synthetic_store).rows())
    ours = {v for g in groups for m in g.models for v in m.values}
    assert 0.164 not in ours  # the published LSTM adding MSE stays in its own table
    assert published_for("mnist-pixels", {"permute_seed": 0})[0].values["tcn"] == 0.972
    assert published_for("mnist-pixels", {"permute_seed": None})[0].values["tcn"] == 0.990


def test_report_command_rebuilds_from_store_and_refuses_non_stores(tmp_path, capsys):
    store = Store.open(tmp_path / "one")
    _add(store, "a", task="adding", model="gru", seed=0, status="done", value=0.01)
    store.close()
    assert main(["report", str(tmp_path / "one"), "--quiet"]) == 0
    assert "no comparison" in (tmp_path / "one" / "report.md").read_text()
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "not an rnnlab store" in capsys.readouterr().err


def test_stored_baselines_appear_beside_the_models_but_not_in_the_verdict(tmp_path):
    store = Store.open(tmp_path)
    options = {"path": "sales.csv", "window": 10}
    for seed, (a, b) in enumerate([(0.50, 0.61), (0.52, 0.63), (0.51, 0.62)]):
        _add(
            store,
            f"l{seed}",
            task="user-forecast",
            model="lstm",
            seed=seed,
            status="done",
            value=a,
            options=options,
        )
        _add(
            store,
            f"g{seed}",
            task="user-forecast",
            model="gru",
            seed=seed,
            status="done",
            value=b,
            options=options,
        )
    store.put_baselines("user-forecast", options, {"arima": {"test_mse": 0.01, "test_mae": 0.1}})
    store.put_baselines("user-forecast", {"other": 1}, {"naive": {"test_mse": 0.2}})
    (group,) = summarize(store.rows(), baselines=store.baselines)
    assert group.baselines == {"arima": 0.01}  # only this setup's, only the deciding metric
    assert group.verdict.winner == "lstm"  # the better baseline does not win
    markdown = build_report(tmp_path).markdown.read_text()
    assert re.search(r"\| arima \(baseline\) \| 0\.01 \|", markdown)
    assert "naive (baseline)" not in markdown


def test_cpu_time_is_reported_beside_wall_time(tmp_path):
    store = Store.open(tmp_path)
    for seed in range(3):
        common = {"task": "adding", "seed": seed, "status": "done", "value": 0.1 + seed / 100}
        _add(store, f"l{seed}", model="lstm", cost={"cpu_time_per_epoch_s": 0.25}, **common)
        _add(store, f"g{seed}", model="gru", **common)  # recorded before CPU time was
    models = {m.model: m for m in summarize(store.rows())[0].models}
    assert models["lstm"].cpu_time_per_epoch_s == 0.25
    assert math.isnan(models["gru"].cpu_time_per_epoch_s)
    markdown = build_report(tmp_path).markdown.read_text()
    assert "| s/epoch | CPU s/epoch |" in markdown
    assert re.search(r"\| lstm \|.*\| 0\.5 \| 0\.25 \|", markdown)
    assert re.search(r"\| gru \|.*\| 0\.5 \| – \|", markdown)
    assert "CPU s/epoch: the CPU time of the run's process" in markdown


def test_chance_levels_of_the_synthetic_tasks(synthetic_store, built):
    import math

    from rnnlab.report.summary import chance_level

    groups = summarize(Store.open(synthetic_store).rows())
    adding = [g for g in groups if g.task == "adding"]
    assert [chance_level(g) for g in adding] == pytest.approx([1 / 6, 1 / 6])
    assert all(chance_level(g) is None for g in groups if g.task != "adding")
    copy = dataclasses.replace(adding[0], task="copy", options={"length": 10})
    assert chance_level(copy) == pytest.approx(10 * math.log(8) / 30)
    assert "Chance level (trivial strategy): 0.1667." in built.markdown.read_text()


def test_report_warns_when_cost_figures_come_from_different_machines(tmp_path):
    store = Store.open(tmp_path)
    for seed in range(2):
        for model, cpu in (("lstm", "Xeon A"), ("gru", "EPYC B")):
            for length in (10, 20):  # length 20: one kind of machine
                _add(
                    store,
                    f"{model}{seed}{length}",
                    task="adding",
                    model=model,
                    seed=seed,
                    status="done",
                    value=0.1 + seed / 100,
                    options={"length": length},
                    versions={"torch": "x", "cpu": cpu if length == 10 else "Xeon A"},
                )
    groups = {g.options["length"]: g for g in summarize(store.rows())}
    assert groups[10].machines == ["EPYC B", "Xeon A"] and groups[20].machines == ["Xeon A"]
    markdown = build_report(tmp_path).markdown.read_text()
    assert markdown.count("ran on different kinds of machine (EPYC B, Xeon A)") == 1


def test_report_opens_with_the_overall_answer_across_tasks(synthetic_store, built):
    md = built.markdown.read_text()
    assert md.index("**Overall:**") < md.index("## adding (length=50)")
    from rnnlab.report.overall import overall

    assert overall(summarize(Store.open(synthetic_store).rows())[:1]) is None  # one task
    # gru wins both adding lengths (by far) and loses japanese-vowels on two of three seeds
    assert "gru vs lstm over 3 tasks: normalised IQM gru " in md
    assert "P(gru beats lstm on a random task and seed) = " in md
    assert "95 % stratified bootstrap CIs" in md
    assert (built.markdown.parent / "report_files" / "profile.png").stat().st_size > 1000
    assert "performance profile across tasks" in built.html.read_text()
