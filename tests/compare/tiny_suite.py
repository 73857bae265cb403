"""Script and helpers: a tiny real comparison (adding, T=10) used by the end-to-end tests."""

import sys

from rnnlab.compare.plan import Comparison, run_comparisons

TINY_OPTIONS = {"length": 10, "train_size": 64, "eval_size": 32}
TINY_CLI = [
    *("--task", "adding", "--length", "10", "--params", "575", "--epochs", "2"),
    *("--batch-size", "32", "--option", "train_size=64", "--option", "eval_size=32"),
]
"""``rnnlab compare`` arguments of the same tiny setup (lstm and gru, 2 epochs)."""


def tiny(seeds: int = 2, tune: int = 0, epochs: int = 3) -> list[Comparison]:
    return [
        Comparison(
            "adding",
            ["lstm", "gru"],
            TINY_OPTIONS,
            budget=575,
            seeds=seeds,
            tune=tune,
            train={"epochs": epochs, "batch_size": 32},
        )
    ]


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)
    run_comparisons(tiny(epochs=int(sys.argv[2])), sys.argv[1])
