"""One colour per model, shared by every figure of a report (compare, claims, forecasts).

Okabe–Ito colours (Okabe & Ito 2008), distinguishable with the common colour-vision
deficiencies. Known models always get the same colour, so LSTM is the same blue in every
report; other names take the unused colours in order of first appearance, then repeat.
"""

from __future__ import annotations

from collections.abc import Iterable

OKABE_ITO = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)

FIXED = {
    "lstm": OKABE_ITO[0],
    "gru": OKABE_ITO[1],
    "rnn": OKABE_ITO[2],
    "rnn-tanh": OKABE_ITO[2],
    "tcn": OKABE_ITO[3],
    "bilstm": OKABE_ITO[5],
    "forget_bias=1": OKABE_ITO[4],
    "forget_bias=0": OKABE_ITO[0],
}
"""Models whose colour never changes between reports."""

CHANCE = "#555555"
"""Grey of chance-level and reference lines (not a model colour)."""


def model_colours(names: Iterable[str]) -> dict[str, str]:
    """The colour of each of ``names`` (hex): fixed ones first, the rest in the unused order."""
    names = list(dict.fromkeys(names))
    colours = {name: FIXED[name] for name in names if name in FIXED}
    free = [c for c in OKABE_ITO if c not in colours.values()] or list(OKABE_ITO)
    others = [name for name in names if name not in colours]
    for index, name in enumerate(others):
        colours[name] = free[index % len(free)]
    return {name: colours[name] for name in names}
