"""Named suites of comparisons: ``quick`` (minutes on a laptop CPU), ``standard`` (hours on
CPU) and ``paper`` (the sizes of Bai et al. 2018, meant for a GPU)."""

from __future__ import annotations

import difflib

from rnnlab.compare.plan import Comparison
from rnnlab.errors import UserInputError

ALL = ["lstm", "gru", "rnn", "tcn"]
GATED = ["lstm", "gru"]


def _quick() -> list[Comparison]:
    # Sized (measured) to finish in about 10 minutes on 2 quiet CPU cores with 2 workers of
    # one thread. Synthetic tasks are short and get 300-400 steps at a learning rate of 1e-2,
    # enough for the gated models to beat the chance level on adding; copy memory mostly
    # shows which model family learns it at all in so few steps. Coarse differences only.
    synth = {"train_size": 3200, "eval_size": 256}  # 100 steps of 32 per epoch
    adding = {"epochs": 4, "lr": 1e-2}
    copy = {"epochs": 3, "lr": 1e-2}
    few = {"epochs": 3, "lr": 5e-3}
    return [
        Comparison("adding", ALL, {"length": 20, **synth}, budget=5_000, train=adding),
        Comparison(
            "adding", ["lstm", "gru", "rnn"], {"length": 50, **synth}, budget=5_000, train=adding
        ),
        *(
            Comparison("copy", ALL, {"length": t, **synth}, budget=5_000, train=copy)
            for t in (10, 20)
        ),
        Comparison("japanese-vowels", ALL, {}, budget=5_000, train={"epochs": 6, "lr": 5e-3}),
        Comparison("sunspots", ALL, {"window": 24, "limit": 1500}, budget=7_000, train=few),
        Comparison(
            "shakespeare",
            GATED,
            {"limit": 60_000, "seq_len": 50},
            budget=8_000,
            train={"epochs": 3, "lr": 1e-2},
        ),
        Comparison(
            "rotten-tomatoes",
            GATED,
            {"limit": 1000},
            budget=75_000,
            train={"epochs": 2, "lr": 5e-3},
        ),
        Comparison(
            "bach-chorales",
            ALL,
            {"limit": 60},
            budget=6_000,
            train={"epochs": 12, "lr": 1e-2, "batch_size": 8},  # 60 pieces: 8 steps an epoch
        ),
        Comparison(
            "mnist-rows", ALL, {"limit": 800}, budget=6_000, train={"epochs": 8, "lr": 1e-2}
        ),
    ]


def _standard() -> list[Comparison]:
    # Sized with `rnnlab compare --suite standard --estimate` to finish within 3 hours on 2
    # idle CPU cores with 2 workers; docs/comparisons.md lists each cut and the estimate
    # behind it. Synthetic and long-sequence tasks run at one learning rate for every model
    # (tuning them would triple the dominant cost); the real data sets get 3 trials each.
    synth = {"train_size": 6400, "eval_size": 1000}  # 200 fresh batches of 32 per epoch
    synthetic = {"epochs": 8, "lr": 2e-3}  # 1,600 steps; Bai et al.'s TCN rate
    real = {"epochs": 20, "patience": 5}
    return [
        *(  # Bai et al. 2018 evaluate T = 200, 400, 600; 20,500 parameters is the smallest
            # round budget at which the TCN has a width within 3 % at all three lengths
            Comparison(
                "adding", ALL, {"length": t, **synth}, budget=20_500, seeds=5, train=synthetic
            )
            for t in (200, 400, 600)
        ),
        *(
            Comparison("copy", ALL, {"length": t, **synth}, budget=16_500, seeds=5, train=synthetic)
            for t in (50, 100, 200)  # LSTM falls to chance past T ≈ 50, GRU past ≈ 200
        ),
        Comparison("mnist-pixels", ALL, {}, budget=20_000, seeds=5, train={"epochs": 8}),
        *(
            Comparison(name, ALL, {}, budget=20_000, seeds=5, tune=3, train=real)
            for name in ("japanese-vowels", "spoken-digits", "mnist-rows", "sunspots")
        ),
        Comparison(
            "elecdemand",
            ALL,
            {},
            budget=20_000,
            seeds=5,
            tune=3,
            train={"epochs": 8, "patience": 3},
        ),
        Comparison(
            "shakespeare",
            GATED,
            {"limit": 500_000},
            budget=100_000,
            seeds=5,
            tune=3,
            train={"epochs": 10, "patience": 3},
        ),
        Comparison(
            "rotten-tomatoes",
            ALL,
            {},
            budget=400_000,
            seeds=5,
            tune=3,
            train={"epochs": 3},
        ),
        # the LSTM variants of Greff et al. 2017 beside LSTM, GRU, RNN and TCN
        Comparison(
            "bach-chorales",
            [*ALL, "lstm-peephole", "lstm-cifg"],
            {},
            budget=20_000,
            seeds=5,
            tune=3,
            train=real,
        ),
        Comparison("reverse", GATED, {}, budget=50_000, seeds=5, train={"epochs": 10}),
        Comparison("digit-add", GATED, {}, budget=50_000, seeds=5, train={"epochs": 10}),
    ]


def _paper() -> list[Comparison]:
    # Bai et al. 2018, Table 1 sizes (published-results.md): ~70K parameters for adding and
    # sequential MNIST, ~16K for copy memory (T = 1000), ~300K for JSB Chorales. Our MNIST is
    # the 5k-image subset and our chorales the music21 corpus, so numbers are not identical.
    adding = {"train_size": 50_000, "eval_size": 1000}
    return [
        *(
            Comparison(
                "adding",
                ALL,
                {"length": t, **adding},
                budget=70_000,
                seeds=5,
                train={"epochs": 20, "lr": 2e-3},
            )
            for t in (200, 400, 600)
        ),
        Comparison(
            "copy",
            ALL,
            {"length": 1000, "train_size": 30_000, "eval_size": 1000},
            budget=16_750,
            seeds=5,
            train={"epochs": 20, "lr": 5e-4},
        ),
        Comparison("mnist-pixels", ALL, {}, budget=70_000, seeds=3, train={"epochs": 20}),
        Comparison(
            "mnist-pixels", ALL, {"permute_seed": 0}, budget=70_000, seeds=3, train={"epochs": 20}
        ),
        Comparison("bach-chorales", ALL, {}, budget=300_000, seeds=5, train={"epochs": 40}),
        Comparison(
            "bach-chorales",
            ["lstm", "gru", "rnn"],
            {},
            budget=20_000,
            seeds=5,
            train={"epochs": 40},
        ),  # Chung et al. 2014 size
    ]


SUITES = {"quick": _quick, "standard": _standard, "paper": _paper}


def get_suite(name: str) -> list[Comparison]:
    """The comparisons of suite ``name``; UserInputError listing the suites otherwise."""
    if name not in SUITES:
        close = difflib.get_close_matches(name, SUITES, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UserInputError(f"unknown suite {name!r}; valid suites: {', '.join(SUITES)}.{hint}")
    return SUITES[name]()
