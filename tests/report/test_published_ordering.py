"""Published orderings beside ours: agree, not shown, disagree (with the setting differences
most likely to explain it), and the store-derived provenance of a report."""

from types import SimpleNamespace

import pytest

from rnnlab.compare.store import Store
from rnnlab.compare.units import versions
from rnnlab.report import build_report
from rnnlab.report.provenance import busy_seconds, software_text
from rnnlab.report.published import BAI_2018, GREFF_2017, ordering_check, published_for

SOLVED = [0.0010, 0.0012, 0.0011, 0.0009, 0.0010]
CHANCE = [0.160, 0.165, 0.170, 0.168, 0.163]


def _group(values, *, task="adding", length=600, budget=70_000, higher=False):
    return SimpleNamespace(
        task=task,
        models=[SimpleNamespace(model=m, values=v) for m, v in values.items()],
        higher_is_better=higher,
        metric="accuracy" if higher else "mse",
        margin=None,
        options={"length": length, "train_size": 6400} if length else {},
        budget=budget,
        train={"epochs": 8},
    )


def _row(task, source, options=None):
    return next(r for r in published_for(task, options or {}) if r.source == source)


def test_the_published_adding_ordering_agrees_when_ours_shows_it():
    row = _row("adding", BAI_2018)
    text = ordering_check(row, _group({"lstm": CHANCE, "gru": SOLVED, "rnn": CHANCE}))
    assert "agrees: gru better than lstm, gru better than rnn" in text
    assert "not shown" not in text and "disagrees" not in text and "likely reason" not in text


def test_a_reversed_ordering_disagrees_and_names_the_setting_differences():
    row = _row("adding", BAI_2018)
    text = ordering_check(row, _group({"lstm": SOLVED, "gru": CHANCE}, length=200, budget=20_500))
    assert "disagrees: gru better than lstm (here lstm is significantly better)" in text
    assert "likely reason: length T = 200 here vs 600 published" in text
    assert "20,500 parameters here vs ~70,000 published" in text
    assert "training sequences" not in text  # 6,400 × 8 = 51,200, more than the 50,000
    assert "TCN" not in text  # the TCN's initialisation explains nothing about LSTM vs GRU


def test_overlapping_seeds_do_not_show_the_ordering():
    row = _row("adding", BAI_2018)
    text = ordering_check(row, _group({"gru": CHANCE, "lstm": CHANCE[::-1], "tcn": CHANCE}))
    assert "not shown: gru better than lstm (no significant difference here)" in text
    assert "initialisation: the paper's TCN weights" in text  # a TCN pair is among them


def test_pairs_found_equal_agree_without_a_difference_and_disagree_with_one():
    row = _row("bach-chorales", GREFF_2017)
    same = {"lstm": [8.1, 8.2, 8.0, 8.15], "lstm-peephole": [8.12, 8.18, 8.05, 8.1]}
    assert "agrees: lstm-peephole ≈ lstm" in ordering_check(row, _group(same, length=None))
    apart = {"lstm": [8.1, 8.2, 8.0, 8.15], "lstm-peephole": [9.1, 9.2, 9.0, 9.15]}
    text = ordering_check(row, _group(apart, length=None))
    assert "disagrees: lstm-peephole ≈ lstm (here significantly different)" in text


def test_no_line_when_the_paper_orders_none_of_the_models_run():
    row = _row("bach-chorales", GREFF_2017)
    assert ordering_check(row, _group({"lstm": CHANCE, "gru": SOLVED}, length=None)) is None


def _store_with(root, models):
    store = Store.open(root)
    for model, values in models.items():
        for seed, value in enumerate(values):
            key = f"{model}-{seed}"
            config = {"task": "bach-chorales", "model": model, "hidden_size": 8,
                      "num_layers": 1, "task_options": {"limit": None}, "train": {"lr": 1e-3},
                      "budget": 1000}  # fmt: skip
            store.claim(key, phase="final", seed=seed, task="bach-chorales", model=model,
                        config=config)  # fmt: skip
            store.finish(key, status="done", metrics={"test_nll_per_frame": value},
                         curves={}, cost={}, versions=versions())  # fmt: skip
    store.close()


@pytest.mark.parametrize(("variants", "shown"), [(False, False), (True, True)])
def test_the_report_shows_a_finding_only_where_its_models_ran(tmp_path, variants, shown):
    models = {"lstm": [8.1, 8.2, 8.0], "gru": [8.0, 8.1, 8.05]}
    if variants:
        models["lstm-peephole"] = [8.15, 8.1, 8.05]
    _store_with(tmp_path, models)
    text = build_report(tmp_path).markdown.read_text()
    assert ("Greff" in text) is shown
    assert "Chung" in text  # a published table with figures always shows
    assert "Machine: " in text and "wall time" in text


def test_busy_time_is_the_union_of_run_intervals():
    rows = [SimpleNamespace(started_at=a, finished_at=b) for a, b in [(0, 10), (5, 15), (20, 30)]]
    assert busy_seconds(rows) == 25  # 0-15 and 20-30; the gap between sessions is not counted
    assert busy_seconds([SimpleNamespace(started_at=0, finished_at=9), *rows[:1]]) == 10


def test_a_significant_difference_inside_the_margin_does_not_show_the_ordering():
    """All at chance with tiny seed noise: a t-test can be significant, the ordering is not
    shown (the verdict calls such models equivalent), as on copy memory at T = 200."""
    row = _row("adding", BAI_2018)
    at_chance = [0.1667, 0.1668, 0.1666, 0.1667, 0.1668]
    text = ordering_check(row, _group({"gru": [v - 0.0003 for v in at_chance], "lstm": at_chance}))
    assert (
        "not shown: gru better than lstm (here gru is significantly better, but within the "
        "±0.0083 margin)" in text
    )
    assert "agrees" not in text


def test_software_line_names_the_versions_once_and_not_the_machine():
    rows = [
        SimpleNamespace(versions={}),
        SimpleNamespace(versions={"torch": "2.13.0", "machine": "Xeon, 2 CPUs", "cuda": None}),
    ]
    assert software_text(rows) == "Software: torch 2.13.0."
    assert software_text([SimpleNamespace(versions={})]) is None
