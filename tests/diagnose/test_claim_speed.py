"""Claim 4's speed benchmark: its verdict against the same-kernel noise floor, and that it
runs in the claims process only after the executor has returned (no worker training)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from tiny_budget import TINY

from rnnlab.diagnose import claim_speed, study
from rnnlab.diagnose.claim_speed import SPEED_FILE, SpeedBenchmark, measure_speed, with_speed
from rnnlab.diagnose.verdicts import (
    INCONCLUSIVE,
    REFUTED,
    SUPPORTED,
    ClaimVerdict,
    SplitOutcome,
)
from rnnlab.report.claims_page import write_claims_report


def fake_timer(gru_factor: float, noise: float, events: list[str] | None = None):
    """A timer that calls nothing: LSTM takes 1 ms, GRU ``gru_factor`` ms, every call off by
    up to ``noise`` (a fraction), drawn from a seeded generator."""
    draw = np.random.default_rng(0)

    def timer(calls, device, *, reps, warmup, rng):
        assert len(calls) == 4 and calls[0] is calls[2] and calls[1] is calls[3]
        if events is not None:
            events.append("timed")
        base = [1e-3, gru_factor * 1e-3, 1e-3, gru_factor * 1e-3]
        return [list(b * (1 + draw.uniform(-noise, noise, reps))) for b in base]

    return timer


@pytest.mark.parametrize(
    ("factor", "noise", "word", "outcome"),
    [
        (0.7, 0.02, "faster", SUPPORTED),
        (1.4, 0.02, "slower", REFUTED),
        (1.0, 0.02, "parity", INCONCLUSIVE),
        (0.85, 0.4, "parity", INCONCLUSIVE),  # a 15 % gain inside ±40 % control noise
    ],
)
def test_speed_verdict_against_the_noise_floor(factor, noise, word, outcome):
    budget = TINY.__class__(**{**TINY.__dict__, "speed_rounds": 40})
    speed = measure_speed(budget, timer=fake_timer(factor, noise))
    assert {g.setting for g in speed.groups} == {"equal hidden size", "equal parameters"}
    assert "native" in {g.engine for g in speed.groups}
    for group in speed.groups:
        assert group.verdict == word
        assert group.ratio == pytest.approx(factor, rel=2 * noise + 0.01)
        assert 0 < group.noise_floor < 2 * noise  # the CI of a median ratio of equal calls
        split = group.outcome()
        assert split.outcome == outcome and split.note.startswith(word)
    params = [g.hidden for g in speed.groups if g.setting == "equal parameters"]
    assert all(h["gru"] > h["lstm"] == TINY.cost_hidden for h in params)


def test_claim_4_gets_the_speed_splits_or_says_they_are_missing():
    verdicts = [
        ClaimVerdict(4, SUPPORTED, "supported", (SplitOutcome("parameters", SUPPORTED, ()),)),
        ClaimVerdict(8, SUPPORTED, "supported"),
    ]
    speed = measure_speed(TINY, timer=fake_timer(1.0, 0.02))
    four, eight = with_speed(verdicts, speed)
    assert eight is verdicts[1]
    # parity is no difference shown, not equality: those splits are inconclusive, named
    assert len(four.splits) == 1 + len(speed.groups) and four.kind == SUPPORTED
    assert "(inconclusive on " in four.text
    assert "parity" in four.splits[1].note
    missing = with_speed(verdicts, None)[0]
    assert missing.splits[-1].outcome == INCONCLUSIVE
    assert "not run" in missing.splits[-1].note


def test_benchmark_round_trips_through_json(tmp_path):
    speed = measure_speed(TINY, timer=fake_timer(0.7, 0.02))
    speed.save(tmp_path / "s.json")
    again = SpeedBenchmark.load(tmp_path / "s.json")
    assert again == speed and again.groups[0].split == speed.groups[0].split


def test_speed_is_timed_after_the_executor_returns_and_kept(tmp_path, monkeypatch):
    events: list[str] = []
    run_all = study.run_all

    def recorded_run_all(*args, **kwargs):
        events.append("training")
        result = run_all(*args, **kwargs)
        events.append("executor returned")
        return result

    monkeypatch.setattr(study, "run_all", recorded_run_all)
    timed = functools.partial(measure_speed, timer=fake_timer(0.7, 0.02, events))
    monkeypatch.setattr(study, "measure_speed", timed)
    result = study.run_claims(TINY, tmp_path, claims=[4], workers=2)
    assert events[:2] == ["training", "executor returned"]
    assert set(events[2:]) == {"timed"} and len(events[2:]) == len(result.speed.groups)
    assert (tmp_path / SPEED_FILE).exists()
    claim4 = result.verdicts[0]
    assert [s.outcome for s in claim4.splits if s.split.startswith("time")] == [SUPPORTED] * len(
        result.speed.groups
    )
    page = write_claims_report(result, tmp_path / "page")
    for kind in ("markdown", "html"):
        text = page[kind].read_text()
        assert "Speed measured apart from the training runs" in text
        assert "time per forward+backward, native engine, equal parameters" in text
    # re-run: the runs are skipped and the stored benchmark is kept, not measured again
    events.clear()
    study.run_claims(TINY, tmp_path, claims=[4], workers=2)
    assert "timed" not in events
    assert study.load_claims(TINY, tmp_path, claims=[4]).speed == result.speed


def test_claims_without_claim_4_time_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(claim_speed, "time_interleaved", None)  # would fail if called
    study.run_claims(TINY, tmp_path, claims=[8], workers=1)
    assert not (tmp_path / SPEED_FILE).exists()
