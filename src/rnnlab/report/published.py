"""Published figures shown beside our results, labelled "published" — never mixed into them.

Sources (see /work/shared/reference/published-results.md in the project notes):

- Bai, S., Kolter, J. Z. & Koltun, V. (2018). An Empirical Evaluation of Generic Convolutional
  and Recurrent Networks for Sequence Modeling. arXiv:1803.01271, Table 1 (test set).
- Chung, J., Gulcehre, C., Cho, K. & Bengio, Y. (2014). Empirical Evaluation of Gated
  Recurrent Neural Networks on Sequence Modeling. arXiv:1412.3555 (JSB Chorales, test NLL).
- Jozefowicz, R., Zaremba, W. & Sutskever, I. (2015). An Empirical Exploration of Recurrent
  Network Architectures. ICML (GRU beat LSTM on most tasks except language modelling).
- Greff, K., Srivastava, R. K., Koutník, J., Steunebrink, B. R. & Schmidhuber, J. (2017).
  LSTM: A Search Space Odyssey. IEEE TNNLS (no LSTM variant significantly better than vanilla;
  coupled gates and no peepholes did not hurt significantly; JSB Chorales among the tasks).

Values are in the units of our metric for the same task (accuracy as a fraction, not %).
Each row also states the *ordering* the paper shows clearly — pairs (better, worse), leaving
out models whose figures are practically equal or all at chance — and pairs it found equal;
:func:`ordering_check` says whether our runs agree, and where they do not, names the
differences of setting (length, budget, data, training, initialisation) most likely to
explain it. A setting is never changed to match a paper.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from rnnlab.compare.margins import Margin, default_margin
from rnnlab.compare.stats import ALPHA, mean_ci, welch_test

if TYPE_CHECKING:
    from rnnlab.report.summary import GroupSummary

BAI_2018 = "Bai, Kolter & Koltun 2018 (arXiv:1803.01271), Table 1"
CHUNG_2014 = "Chung, Gulcehre, Cho & Bengio 2014 (arXiv:1412.3555)"
JOZEFOWICZ_2015 = "Jozefowicz, Zaremba & Sutskever 2015 (ICML)"
GREFF_2017 = "Greff, Srivastava, Koutník, Steunebrink & Schmidhuber 2017 (IEEE TNNLS)"


@dataclass(frozen=True)
class Setting:
    """The published setting, in terms our runs can be compared with (None: not comparable)."""

    length: int | None = None
    params: int | None = None
    train_sequences: int | None = None  # synthetic tasks: training sequences in all
    data: str | None = None  # how their data differ from ours
    training: str | None = None  # optimiser and length of training, as published
    init: dict[str, str] = field(default_factory=dict)  # per model, where it differs from ours


@dataclass(frozen=True)
class Published:
    """One published row: ``values`` maps our model names to the published figure (empty when
    the paper states a finding without a figure in our units); ``better`` the pairs it clearly
    orders, ``equal`` those it found not significantly different."""

    task: str
    metric: str
    values: dict[str, float]
    source: str
    setup: str
    options: dict[str, object] = field(default_factory=dict)
    better: tuple[tuple[str, str], ...] = ()
    equal: tuple[tuple[str, str], ...] = ()
    setting: Setting = field(default_factory=Setting)


_TCN_INIT = {"tcn": "the paper's TCN weights drawn from N(0, 0.01), ours PyTorch's default"}
_JSB = (
    "JSB Chorales (382 pieces, Boulanger-Lewandowski et al. 2012 split); ours: 371 chorales of "
    "the music21 corpus, one frame per quarter note"
)
_RECURRENT = ("lstm", "gru", "rnn")

PUBLISHED: list[Published] = [
    Published(
        "adding",
        "mse",
        {"lstm": 0.164, "gru": 5.3e-5, "rnn": 0.177, "tcn": 5.8e-5},
        BAI_2018,
        "T = 600, ~70K parameters, 50,000 training sequences; chance MSE is 1/6 ≈ 0.167, so the "
        "LSTM and RNN figures are at chance",
        {"length": 600},
        better=(("gru", "lstm"), ("gru", "rnn"), ("tcn", "lstm"), ("tcn", "rnn")),
        setting=Setting(
            length=600,
            params=70_000,
            train_sequences=50_000,
            training="Adam, learning rate and clipping tuned per model (LSTM: clip 5)",
            init=_TCN_INIT,
        ),
    ),
    Published(
        "copy",
        "cross_entropy",
        {"lstm": 0.0204, "gru": 0.0197, "rnn": 0.0202, "tcn": 3.5e-5},
        BAI_2018,
        "blank length T = 1000, ~16K parameters; loss averaged over all T + 20 steps, chance "
        "10 ln 8 / 1020 = 0.0204, so LSTM, GRU and RNN are at chance",
        {"length": 1000},
        better=tuple(("tcn", m) for m in _RECURRENT),
        setting=Setting(
            length=1000,
            params=16_000,
            training="RMSprop, learning rate 5e-4 (TCN), gradient clipping without effect in "
            "their script",
            init=_TCN_INIT,
        ),
    ),
    Published(
        "mnist-pixels",
        "accuracy",
        {"lstm": 0.872, "gru": 0.962, "rnn": 0.215, "tcn": 0.990},
        BAI_2018,
        "sequential MNIST, full 60k/10k MNIST, ~70K parameters (we use a 5k-image subset)",
        {"permute_seed": None},
        better=(
            *(("tcn", m) for m in _RECURRENT),
            ("gru", "lstm"),
            ("gru", "rnn"),
            ("lstm", "rnn"),
        ),
        setting=Setting(
            params=70_000,
            data="full MNIST (60,000 training images) there, a 5,000-image subset here",
            training="RMSprop, learning rate 1e-3, clip 1 (LSTM)",
            init=_TCN_INIT,
        ),
    ),
    Published(
        "mnist-pixels",
        "accuracy",
        {"lstm": 0.857, "gru": 0.873, "rnn": 0.253, "tcn": 0.972},
        BAI_2018,
        "permuted MNIST, full MNIST, ~70K parameters (we use a 5k-image subset)",
        {"permute_seed": 0},
        better=(*(("tcn", m) for m in _RECURRENT), ("lstm", "rnn"), ("gru", "rnn")),
        setting=Setting(
            params=70_000,
            data="full MNIST (60,000 training images) and their permutation there, a "
            "5,000-image subset and permutation seed 0 here",
            init=_TCN_INIT,
        ),
    ),
    Published(
        "bach-chorales",
        "nll_per_frame",
        {"lstm": 8.45, "gru": 8.43, "rnn": 8.91, "tcn": 8.10},
        BAI_2018,
        "JSB Chorales (382 pieces, Boulanger-Lewandowski et al. 2012 split), ~300K parameters; "
        "ours: 371 chorales of the music21 corpus, one frame per quarter note",
        better=(*(("tcn", m) for m in _RECURRENT), ("lstm", "rnn"), ("gru", "rnn")),
        setting=Setting(params=300_000, data=_JSB, init=_TCN_INIT),
    ),
    Published(
        "bach-chorales",
        "nll_per_frame",
        {"lstm": 8.67, "gru": 8.54, "rnn": 9.19},
        CHUNG_2014,
        "JSB Chorales test NLL, ~20K parameters (LSTM 36, GRU 46, tanh-RNN 100 units); ours: "
        "music21 corpus",
        better=(("lstm", "rnn"), ("gru", "rnn")),  # GRU vs LSTM: no consistent winner
        setting=Setting(params=20_000, data=_JSB),
    ),
    Published(
        "bach-chorales",
        "nll_per_frame",
        {},
        GREFF_2017,
        "eight LSTM variants on TIMIT, IAM handwriting and JSB Chorales, each tuned by random "
        "search: no variant significantly better than the vanilla LSTM (with peepholes); "
        "coupled input and forget gates (CIFG) and no peepholes (our plain lstm) did not hurt "
        "significantly",
        equal=(("lstm-peephole", "lstm"), ("lstm-peephole", "lstm-cifg")),
        setting=Setting(data=_JSB, training="hyperparameters found by random search per variant"),
    ),
    Published(
        "shakespeare",
        "bits_per_char",
        {"lstm": 1.36, "gru": 1.37, "rnn": 1.48, "tcn": 1.31},
        BAI_2018,
        "character-level Penn Treebank (not Shakespeare), ~3M parameters",
        better=(("tcn", "lstm"), ("tcn", "gru"), ("tcn", "rnn"), ("lstm", "rnn"), ("gru", "rnn")),
        setting=Setting(
            params=3_000_000,
            data="Penn Treebank characters there, Shakespeare's plays here",
            init=_TCN_INIT,
        ),
    ),
    Published(
        "shakespeare",
        "bits_per_char",
        {},
        JOZEFOWICZ_2015,
        "over 10,000 architectures searched: GRU beat LSTM on most tasks, but not on language "
        "modelling (Penn Treebank words), where the LSTM with forget-gate bias 1 did better",
        better=(("lstm", "gru"),),
        setting=Setting(
            data="word-level Penn Treebank there, characters of Shakespeare here",
            training="hyperparameters searched per architecture",
        ),
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


def _reasons(row: Published, group: GroupSummary, models: set[str]) -> list[str]:
    """The differences between the published setting and ours, most likely first (the
    initialisation only of ``models``, those of the pairs that did not agree)."""
    setting, options, reasons = row.setting, group.options, []
    length = options.get("length")
    if setting.length and length and length != setting.length:
        reasons.append(f"length T = {length} here vs {setting.length} published")
    if setting.params and group.budget and abs(group.budget / setting.params - 1) > 0.25:
        reasons.append(f"{group.budget:,} parameters here vs ~{setting.params:,} published")
    if setting.data:
        reasons.append(setting.data)
    epochs = group.train.get("epochs")
    if setting.train_sequences and options.get("train_size") and epochs:
        ours = int(options["train_size"]) * int(epochs)
        if ours < setting.train_sequences:
            reasons.append(
                f"at most {ours:,} training sequences here vs {setting.train_sequences:,}"
            )
    if setting.training:
        reasons.append(f"training: {setting.training} there, up to {epochs or '?'} epochs here")
    reasons.extend(f"initialisation: {text}" for m, text in setting.init.items() if m in models)
    return reasons


def _better(a: Sequence[float], b: Sequence[float], higher_is_better: bool) -> bool:
    difference = mean_ci(a).mean - mean_ci(b).mean
    return difference > 0 if higher_is_better else difference < 0


def ordering_check(row: Published, group: GroupSummary, margin: Margin | None = None) -> str | None:
    """Whether our runs in ``group`` show the ordering ``row`` publishes, as one line.

    Each published pair is tested with Welch's t-test on our seeds, Holm-adjusted over the
    pairs of the row, and its difference of means is set against the equivalence margin
    (``margin``; default the one the group's verdict used, else the metric's): *agrees* (the
    published better model is significantly better here by more than the margin, or a pair
    published as equal shows no difference beyond it — which is not proof of equivalence),
    *not shown* (no significant difference, or one within the margin: both at chance, say),
    *disagrees* (significantly the other way by more than the margin, or such a difference
    where the paper found none). Where it does not agree the line gives the likely reasons:
    how the settings differ. None when the row orders none of the models run here.
    """
    from statsmodels.stats.multitest import multipletests

    ours = {m.model: m.values for m in group.models}
    better = [(a, b) for a, b in row.better if a in ours and b in ours]
    equal = [(a, b) for a, b in row.equal if a in ours and b in ours]
    if not better and not equal:
        return None
    pairs = better + equal
    raw = [welch_test(ours[a], ours[b]) for a, b in pairs]
    finite = [p if math.isfinite(p) else 1.0 for p in raw]
    adjusted = multipletests(finite, method="holm")[1]
    margin = margin or group.margin or default_margin(group.metric)
    agrees, unshown, disagrees, differing = [], [], [], set()
    for index, ((a, b), p) in enumerate(zip(pairs, adjusted, strict=True)):
        width = margin.resolve(ours[a], ours[b])
        material = abs(float(np.mean(ours[a])) - float(np.mean(ours[b]))) > width
        significant = p < ALPHA and material
        if index < len(better):
            label = f"{a} better than {b}"
            if significant and _better(ours[a], ours[b], group.higher_is_better):
                agrees.append(label)
                continue
            differing |= {a, b}
            if significant:
                disagrees.append(f"{label} (here {b} is significantly better)")
            elif p < ALPHA:
                ahead = a if _better(ours[a], ours[b], group.higher_is_better) else b
                unshown.append(
                    f"{label} (here {ahead} is significantly better, but within the "
                    f"±{width:.2g} margin)"
                )
            else:
                unshown.append(f"{label} (no significant difference here)")
        else:
            label = f"{a} ≈ {b}"
            if significant:
                differing |= {a, b}
            (disagrees if significant else agrees).append(
                f"{label} (here significantly different)" if significant else label
            )
    seeds = min(len(ours[m]) for pair in pairs for m in pair)
    parts = [f"**Ordering** ({row.source.split(' (')[0]}; Holm-adjusted Welch tests, n ≥ {seeds})"]
    if agrees:
        parts.append("agrees: " + ", ".join(agrees))
    if unshown:
        parts.append("not shown: " + ", ".join(unshown))
    if disagrees:
        parts.append("disagrees: " + ", ".join(disagrees))
    if unshown or disagrees:
        reasons = _reasons(row, group, differing)
        parts.append(
            "likely reason: " + ("; ".join(reasons) if reasons else "none recorded in the settings")
        )
    return " — ".join(parts) + "."
