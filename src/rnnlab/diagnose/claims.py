"""The nine claims about LSTM and GRU, and how each one's verdict is read from results.

Each claim has a statement, a short description of its experiment, and a verdict function
that reads a *claims table* (see :func:`rnnlab.diagnose.verdicts.contrast`): one row per run
with columns ``claim``, ``split``, ``arm``, ``seed``, ``status``, ``value`` (the metric the
claim reads on that split) and ``higher_is_better``. The experiments that fill the table are
declared in :mod:`rnnlab.diagnose.experiments`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import pandas as pd

from rnnlab.compare.margins import Margin
from rnnlab.compare.stats import ALPHA
from rnnlab.diagnose.verdicts import (
    CLAIM_A_BETTER,
    CLAIM_NOT_WORSE,
    INCONCLUSIVE,
    REFUTED,
    SUPPORTED,
    ClaimVerdict,
    Contrast,
    Reading,
    SplitOutcome,
    VerdictFn,
    adjust_family,
    all_of,
    combine,
    contrast,
    read_contrast,
    splits_of,
)

#: Split-name prefixes of claim 7: the arm the claim favours on each kind of task.
FIXED_LENGTH, VARIABLE_LENGTH, GENERATION = "fixed-length", "variable-length", "generation"
#: Per split, the (favoured, other) arm pairs a claim contrasts there.
Pairs = Callable[[pd.DataFrame, str], list[tuple[str, str]]]


def _claim_rows(table: pd.DataFrame, claim: int) -> pd.DataFrame:
    return table[table["claim"] == claim]


def _higher_is_better(rows: pd.DataFrame, split: str) -> bool:
    flags = rows.loc[rows["split"] == split, "higher_is_better"].dropna().unique()
    if len(flags) != 1:
        raise ValueError(f"split {split!r} must have one higher_is_better value, got {flags}")
    return bool(flags[0])


def _family(
    rows: pd.DataFrame, claim: int, pairs: Pairs, margin: Margin | None, alpha: float, **options
) -> dict[str, list[Contrast]]:
    """Every contrast of one claim, split by split, Holm-adjusted as one family."""
    family = {}
    for split in splits_of(rows, claim):
        better = _higher_is_better(rows, split)
        family[split] = [
            contrast(
                rows,
                split,
                "value",
                f,
                o,
                higher_is_better=better,
                margin=margin,
                alpha=alpha,
                **options,
            )
            for f, o in pairs(rows, split)
        ]
    return adjust_family(family)


def _read(family: dict[str, list[Contrast]], reading: Reading) -> list[SplitOutcome]:
    outcomes = []
    for split, contrasts in family.items():
        if not contrasts:
            outcomes.append(SplitOutcome(split, INCONCLUSIVE, (), "arms missing"))
        else:
            outcomes.append(all_of(split, [read_contrast(c, reading) for c in contrasts]))
    return outcomes


def _beats_all(
    claim: int, favoured: tuple[str, ...], others: tuple[str, ...], reading: Reading
) -> VerdictFn:
    """Verdict of "every ``favoured`` arm beats (or matches) every ``others`` arm" per split."""

    def pairs(rows: pd.DataFrame, split: str) -> list[tuple[str, str]]:
        present = set(rows.loc[rows["split"] == split, "arm"])
        return [(f, o) for f in favoured for o in others if f in present and o in present]

    def verdict(
        table: pd.DataFrame, margin: Margin | None = None, alpha: float = ALPHA
    ) -> ClaimVerdict:
        rows = _claim_rows(table, claim)
        return combine(claim, _read(_family(rows, claim, pairs, margin, alpha), reading))

    return verdict


def _pairwise(claim: int, favoured: str, other: str) -> VerdictFn:
    """Verdict of "``favoured`` beats ``other``" on every split of the claim."""
    return _beats_all(claim, (favoured,), (other,), CLAIM_A_BETTER)


def verdict_gating_prevents_vanishing(
    table: pd.DataFrame, margin: Margin | None = None, alpha: float = ALPHA
) -> ClaimVerdict:
    """Claim 1: LSTM and GRU each beat the tanh RNN (slower gradient decay, longer horizon)."""
    return _beats_all(1, ("lstm", "gru"), ("rnn",), CLAIM_A_BETTER)(table, margin, alpha)


def verdict_gru_cannot_explode(
    table: pd.DataFrame, margin: Margin | None = None, alpha: float = ALPHA
) -> ClaimVerdict:
    """Claim 2: without clipping, GRU has fewer explosion events than LSTM, and none at all.

    ``value`` is a run's explosion score: its explosion events, plus one if it diverged
    (diverged runs are evidence here, not failures). GRU better: supported; LSTM better:
    refuted; otherwise refuted if GRU exploded in any run at least as often as LSTM on
    average (a counterexample to "cannot"), else that contrast's outcome.
    """
    rows = _claim_rows(table, 2)
    family = _family(
        rows, 2, lambda _rows, _split: [("gru", "lstm")], margin, alpha,
        statuses=("done", "diverged"),
    )  # fmt: skip
    outcomes = []
    for split, (c,) in family.items():
        outcome = read_contrast(c)
        gru_exploded_as_often = c.summary_a.mean > 0 and c.summary_b.mean <= c.summary_a.mean
        if outcome.outcome not in (SUPPORTED, REFUTED) and gru_exploded_as_often:
            outcome = SplitOutcome(
                split, REFUTED, (c,), "GRU runs exploded at least as often as LSTM runs"
            )
        outcomes.append(outcome)
    return combine(2, outcomes)


verdict_lstm_longer_memory = _pairwise(3, "lstm", "gru")
verdict_lstm_longer_memory.__doc__ = (
    "Claim 3: LSTM reaches a longer memory horizon / better long-range metric than GRU."
)
verdict_gru_cheaper = _pairwise(4, "gru", "lstm")
verdict_gru_cheaper.__doc__ = (
    "Claim 4: GRU has fewer parameters, fewer FLOPs and a shorter time per step than LSTM."
)
verdict_gru_converges_faster = _pairwise(5, "gru", "lstm")
verdict_gru_converges_faster.__doc__ = (
    "Claim 5: GRU reaches the validation target in fewer steps / less time than LSTM."
)
verdict_bidirectional_longer_memory = _pairwise(6, "bilstm", "lstm")
verdict_bidirectional_longer_memory.__doc__ = (
    "Claim 6: a bidirectional LSTM beats a unidirectional one at matched parameters."
)


def _claim7_pair(_rows: pd.DataFrame, split: str) -> list[tuple[str, str]]:
    if split.startswith(FIXED_LENGTH):
        return [("gru", "lstm")]
    if split.startswith((VARIABLE_LENGTH, GENERATION)):
        return [("lstm", "gru")]
    raise ValueError(
        f"claim 7 split {split!r} must start with {FIXED_LENGTH}, {VARIABLE_LENGTH} or {GENERATION}"
    )


def verdict_gru_fixed_lstm_variable(
    table: pd.DataFrame, margin: Margin | None = None, alpha: float = ALPHA
) -> ClaimVerdict:
    """Claim 7: GRU wins on fixed-length tasks; LSTM on variable-length and generation tasks.

    The favoured arm of a split comes from its name's prefix (``fixed-length``,
    ``variable-length``, ``generation``).
    """
    rows = _claim_rows(table, 7)
    return combine(7, _read(_family(rows, 7, _claim7_pair, margin, alpha), CLAIM_A_BETTER))


verdict_forget_bias_helps = _pairwise(8, "forget_bias=1", "forget_bias=0")
verdict_forget_bias_helps.__doc__ = (
    "Claim 8: LSTM with forget-gate bias 1 beats forget-gate bias 0."
)
verdict_tcn_matches_rnns = _beats_all(9, ("tcn",), ("lstm", "gru"), CLAIM_NOT_WORSE)
verdict_tcn_matches_rnns.__doc__ = (
    "Claim 9: TCN matches or beats LSTM and GRU: better, or equivalent within the margin."
)


@dataclass(frozen=True)
class Claim:
    """A claim as users meet it, the experiment that tests it, and its verdict function."""

    number: int
    statement: str
    experiment: str
    verdict: VerdictFn


CLAIMS: dict[int, Claim] = {
    c.number: c
    for c in (
        Claim(
            1,
            "Gating (LSTM, GRU) prevents the vanishing gradients of a plain RNN.",
            "rnn vs lstm vs gru at matched parameters: per-step decay rate of ‖∂L/∂h_t‖ at "
            "initialization and after training (higher = less vanishing), and memory "
            "horizon on adding. Supported where both gated cells beat the tanh RNN.",
            verdict_gating_prevents_vanishing,
        ),
        Claim(
            2,
            "GRU's gates keep gradients from exploding, while LSTM's cannot.",
            "lstm vs gru trained without gradient clipping at the same (high) learning rates: "
            "explosion events (global gradient norm > 10× its running median) plus "
            "divergences per run.",
            verdict_gru_cannot_explode,
        ),
        Claim(
            3,
            "LSTM captures longer dependencies than GRU.",
            "lstm vs gru at matched parameters: memory horizon (longest length solved within a "
            "fixed step budget, by bisection) on copy memory and adding, and the task metric "
            "at fixed lengths.",
            verdict_lstm_longer_memory,
        ),
        Claim(
            4,
            "GRU has fewer parameters and is cheaper to compute.",
            "lstm vs gru at equal hidden size and at equal parameters: exact parameter count, "
            "analytic FLOPs per step, and measured time per step for each engine.",
            verdict_gru_cheaper,
        ),
        Claim(
            5,
            "GRU is easier to train: it converges faster.",
            "lstm vs gru at matched parameters: training steps and wall time until the "
            "validation metric first reaches a fixed target (runs that never reach it count "
            "the whole step budget).",
            verdict_gru_converges_faster,
        ),
        Claim(
            6,
            "A bidirectional LSTM captures long-term dependencies better than a "
            "unidirectional one.",
            "bilstm vs lstm at matched parameters on tasks where the whole sequence is seen "
            "before the answer (sequence-level regression/classification) and on a task "
            "scored causally.",
            verdict_bidirectional_longer_memory,
        ),
        Claim(
            7,
            "GRU suits fixed-length sequences; LSTM suits variable-length prediction and "
            "generation.",
            "lstm vs gru at matched parameters on fixed-length (mnist-rows), variable-length "
            "(japanese-vowels, spoken-digits) and generation (shakespeare, bits per "
            "character) tasks.",
            verdict_gru_fixed_lstm_variable,
        ),
        Claim(
            8,
            "A forget-gate bias of 1 helps LSTM learn long dependencies.",
            "lstm with forget_bias 0 vs 1 on copy memory and adding, same hidden size.",
            verdict_forget_bias_helps,
        ),
        Claim(
            9,
            "A temporal convolutional network matches or beats recurrent networks.",
            "tcn vs lstm vs gru at matched parameters on each task of the claims suite. "
            "Supported on a task where TCN is better than, or equivalent within the margin "
            "to, each RNN (no significant difference alone is inconclusive).",
            verdict_tcn_matches_rnns,
        ),
    )
}


def judge(
    table: pd.DataFrame,
    notes: dict[int, list[str]] | None = None,
    margin: Margin | None = None,
    alpha: float | Mapping[int, float] = ALPHA,
) -> list[ClaimVerdict]:
    """The verdict on every claim, from ``table``.

    ``margin`` overrides every metric's default equivalence margin; ``alpha`` is the level
    of every claim, or per claim (the look levels of adaptive seeds).

    ``notes`` lists, per claim, parts of its experiment that could not run (a dataset that is
    not installed, say); they are appended to the verdict, and a claim with no rows at all is
    inconclusive with those notes as the reason.
    """
    notes = notes or {}
    verdicts = []
    for number, claim in CLAIMS.items():
        rows = _claim_rows(table, number)
        extra = "; ".join(notes.get(number, []))
        if rows.empty:
            verdict = ClaimVerdict(number, INCONCLUSIVE, f"inconclusive: {extra or 'no runs'}")
        else:
            level = alpha.get(number, ALPHA) if isinstance(alpha, Mapping) else alpha
            verdict = claim.verdict(rows, margin, level)
            if extra:
                verdict = replace(verdict, text=f"{verdict.text} ({extra})")
        verdicts.append(verdict)
    return verdicts
