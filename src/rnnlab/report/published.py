"""Published figures shown beside our results, labelled "published" — never mixed into them.

Sources (see /work/shared/reference/published-results.md in the project notes):

- Bai, S., Kolter, J. Z. & Koltun, V. (2018). An Empirical Evaluation of Generic Convolutional
  and Recurrent Networks for Sequence Modeling. arXiv:1803.01271, Table 1 (test set).
- Chung, J., Gulcehre, C., Cho, K. & Bengio, Y. (2014). Empirical Evaluation of Gated
  Recurrent Neural Networks on Sequence Modeling. arXiv:1412.3555 (JSB Chorales, test NLL).

Values are in the units of our metric for the same task (accuracy as a fraction, not %).
"""

from __future__ import annotations

from dataclasses import dataclass, field

BAI_2018 = "Bai, Kolter & Koltun 2018 (arXiv:1803.01271), Table 1"
CHUNG_2014 = "Chung, Gulcehre, Cho & Bengio 2014 (arXiv:1412.3555)"


@dataclass(frozen=True)
class Published:
    """One published row: ``values`` maps our model names to the published figure."""

    task: str
    metric: str
    values: dict[str, float]
    source: str
    setup: str
    options: dict[str, object] = field(default_factory=dict)


PUBLISHED: list[Published] = [
    Published(
        "adding",
        "mse",
        {"lstm": 0.164, "gru": 5.3e-5, "rnn": 0.177, "tcn": 5.8e-5},
        BAI_2018,
        "T = 600, ~70K parameters, 50,000 training sequences; chance MSE is 1/6 ≈ 0.167, so the "
        "LSTM and RNN figures are at chance",
        {"length": 600},
    ),
    Published(
        "copy",
        "cross_entropy",
        {"lstm": 0.0204, "gru": 0.0197, "rnn": 0.0202, "tcn": 3.5e-5},
        BAI_2018,
        "blank length T = 1000, ~16K parameters; loss averaged over all T + 20 steps, chance "
        "10 ln 8 / 1020 = 0.0204, so LSTM, GRU and RNN are at chance",
        {"length": 1000},
    ),
    Published(
        "mnist-pixels",
        "accuracy",
        {"lstm": 0.872, "gru": 0.962, "rnn": 0.215, "tcn": 0.990},
        BAI_2018,
        "sequential MNIST, full 60k/10k MNIST, ~70K parameters (we use a 5k-image subset)",
        {"permute_seed": None},
    ),
    Published(
        "mnist-pixels",
        "accuracy",
        {"lstm": 0.857, "gru": 0.873, "rnn": 0.253, "tcn": 0.972},
        BAI_2018,
        "permuted MNIST, full MNIST, ~70K parameters (we use a 5k-image subset)",
        {"permute_seed": 0},
    ),
    Published(
        "bach-chorales",
        "nll_per_frame",
        {"lstm": 8.45, "gru": 8.43, "rnn": 8.91, "tcn": 8.10},
        BAI_2018,
        "JSB Chorales (382 pieces, Boulanger-Lewandowski et al. 2012 split), ~300K parameters; "
        "ours: 371 chorales of the music21 corpus, one frame per quarter note",
    ),
    Published(
        "bach-chorales",
        "nll_per_frame",
        {"lstm": 8.67, "gru": 8.54, "rnn": 9.19},
        CHUNG_2014,
        "JSB Chorales test NLL, ~20K parameters (LSTM 36, GRU 46, tanh-RNN 100 units); ours: "
        "music21 corpus",
    ),
]


def published_for(task: str, options: dict[str, object]) -> list[Published]:
    """Published rows for ``task``; rows pinned to an option (e.g. a permutation) must match."""
    rows = []
    for row in PUBLISHED:
        if row.task != task:
            continue
        pinned = {k: v for k, v in row.options.items() if k != "length"}
        if all(options.get(k) == v for k, v in pinned.items()):
            rows.append(row)
    return rows
